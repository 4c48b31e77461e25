"""Importing a firm's contact list: `python -m bot clients import` against a bare loop.

    .venv/bin/python benchmarks/clients_import.py [--rows 100000] [--rounds 2]

For 10,000 and --rows lines (address, name, language, phone, tier, tags, topics): seconds to a
committed import, rows/s and peak RSS of the process, for the bot (checks every line, writes
clients, identities, tags, subscriptions and their history) and for a bare loop (csv module
into one SQLite table with executemany, no checks) in the same run, and their ratio. Flat
memory shows as the same peak RSS at both sizes.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import ROOT

BARE = """
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("create table c (address text primary key, name text, language text, phone text,"
           " tier text, tags text, topics text, advisor text)")
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = csv.reader(f)
    next(rows)
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == 1000:
            db.executemany("insert into c values (?,?,?,?,?,?,?,?)", batch)
            batch = []
    db.executemany("insert into c values (?,?,?,?,?,?,?,?)", batch)
db.commit()
"""


def make_list(path: Path, rows: int) -> None:
    rng = random.Random(rows)
    with path.open("w", encoding="utf-8") as out:
        out.write("address,name,language,phone,tier,tags,topics,advisor\n")
        for i in range(rows):
            phone = f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}"
            tier = "vip" if i % 50 == 0 else "standard"
            out.write(
                f"telegram:{3_000_000 + i},客户{i},zh,{phone},{tier},黄金;白银,morning;news,\n"
            )


# Runs a module or script, then reports its own peak RSS (KB) as the last line on stderr.
WRAPPER = """
import resource, runpy, sys
target, sys.argv = sys.argv[1], sys.argv[1:]
try:
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    lines = result.stderr.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(result.stderr[-2000:])
    return elapsed, int(lines[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        bare_script = work / "bare.py"
        bare_script.write_text(BARE)
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}:")
            for rows in sorted({10_000, args.rows}):
                listing = work / f"list{rows}.csv"
                make_list(listing, rows)
                db = work / f"bot{round_}_{rows}.db"
                env = {**base, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{db}"}
                ours, ours_rss = timed(["bot", "clients", "import", str(listing)], env)
                bare_db = work / f"bare{round_}_{rows}.db"
                bare, bare_rss = timed([str(bare_script), str(listing), str(bare_db)], env)
                print(
                    f"  {rows:>7} rows: bot {ours:5.1f} s ({rows / ours:,.0f} rows/s, "
                    f"peak RSS {ours_rss:.0f} MB), bare loop {bare:5.2f} s ({rows / bare:,.0f} "
                    f"rows/s, {bare_rss:.0f} MB), ratio bot/bare speed {bare / ours:.2f}"
                )


if __name__ == "__main__":
    main()
