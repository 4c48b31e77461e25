"""`python -m bot` with counters: SQL statements and commits of every engine, written as
JSON to $BENCH_STATS on SIGUSR1; with BENCH_GC_LOG set, garbage collections over 10 ms are
logged (benchmarks only)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COUNTS = {"statements": 0, "commits": 0}
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@event.listens_for(Engine, "before_cursor_execute")
def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if not statement.lstrip()[:9].upper().startswith(CONTROL):
        COUNTS["statements"] += 1


@event.listens_for(Engine, "commit")
def _commit(_conn: Any) -> None:
    COUNTS["commits"] += 1


def _dump(*_args: Any) -> None:
    Path(os.environ["BENCH_STATS"]).write_text(json.dumps(COUNTS))


signal.signal(signal.SIGUSR1, _dump)

if os.environ.get("BENCH_GC_LOG"):
    import gc
    import time

    _started = [0.0]

    def _gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
        elif (took := time.perf_counter() - _started[0]) > 0.01:
            count = len(gc.get_objects())
            print(
                f"gc gen{info['generation']} {took * 1000:.0f} ms, {count} objects", file=sys.stderr
            )

    gc.callbacks.append(_gc)

from bot.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
