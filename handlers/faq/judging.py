"""Keeping a judge with its knowledge base: trained in the background when the base (or what
it learned from use) changed, stored in `meta` under the base's fingerprint (a digest of what
the judge depends on), so every process, and every restart, uses the same one and trains it
once. The shipped base's judges come with it (`default_judge.json`), so a firm starting with
it trains nothing.

    .venv/bin/python -m handlers.faq.judging   # after editing default_kb.yaml or the judge
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.faq import semantic
from handlers.faq.engine import FaqIndex
from handlers.faq.judge import VERSION, Judge, examples, shipped_outside, train
from handlers.faq.semantic import Vector
from storage.records import FaqEntry
from storage.tx import Tx

if TYPE_CHECKING:
    from storage.database import Database

log = logging.getLogger(__name__)

JUDGE_KEY = "faq.judge"
SHIPPED = Path(__file__).with_name("default_judge.json")
LEARNED_NOTHING = "0:0"  # `FaqLearningRepo.version()` of a base that learned nothing yet


_questions: dict[str, Vector] = {}  # embedded once per process (the shipped ones every time)
_questions_lock = threading.Lock()


def _embedded(embedder: semantic.Embedder, texts: list[str]) -> dict[str, Vector]:
    """The questions' embeddings, made for those this process has not embedded yet."""
    with _questions_lock:
        forms = {q: semantic.embed_form(q) for q in texts}
        todo = [f for f in dict.fromkeys(forms.values()) if f not in _questions]
        if todo:
            _questions.update(zip(todo, embedder.embed(todo), strict=True))
        if len(_questions) > 20_000:  # lessons come and go: keep what this training used
            kept = set(forms.values())
            for form in [f for f in _questions if f not in kept]:
                del _questions[form]
        return {q: _questions[f] for q, f in forms.items()}


def fingerprint(
    entries: Sequence[FaqEntry], synonyms: Mapping[str, str], semantic_on: bool, learned: str
) -> str:
    """A digest of everything a judge depends on: the phrasings, the synonyms, whether
    matching is by meaning too (and with which model), what the base learned from use, the
    shipped out-of-scope questions and the judge's own version."""
    body = json.dumps(
        [
            VERSION, semantic.MODEL if semantic_on else None, learned, shipped_outside(),
            sorted((e.id, e.language, e.question, list(e.variants)) for e in entries if e.enabled),
            sorted(synonyms.items()),
        ],
        ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha1(body.encode("utf-8")).hexdigest()[:16]


@cache
def shipped() -> dict[str, str]:
    """fingerprint -> the shipped base's judge, as stored."""
    return json.loads(SHIPPED.read_text("utf-8")) if SHIPPED.exists() else {}


async def stored(tx: Tx, wanted: str) -> tuple[bool, Judge | None]:
    """(whether a judge was trained for `wanted`, the judge if one could be)."""
    raw = await tx.meta.get(JUDGE_KEY)
    data = json.loads(raw) if raw else {}
    if data.get("fingerprint") == wanted:
        return True, Judge.loads(data["judge"]) if data.get("judge") else None
    if wanted in shipped():
        return True, Judge.loads(shipped()[wanted])
    return False, None


async def last_training(tx: Tx) -> dict[str, Any] | None:
    raw = await tx.meta.get(JUDGE_KEY)
    return json.loads(raw) if raw else None


def trained(
    entries: Sequence[FaqEntry],
    synonyms: Mapping[str, str],
    vectors: Mapping[str, Vector] | None,
    embedder: semantic.Embedder | None,
    outside: Sequence[str] = (),
    disliked: Sequence[tuple[str, str]] = (),
    reuse: FaqIndex | None = None,
) -> Judge | None:
    """A judge for the base, its lessons and the shipped out-of-scope questions (blocking:
    seconds of CPU)."""
    questions = [*shipped_outside(), *outside]
    texts = list(dict.fromkeys([*questions, *(q for q, _ in disliked)]))
    found: dict[str, Vector | None] = dict.fromkeys(texts)
    if embedder is not None and vectors:
        found = dict(_embedded(embedder, texts))
    lessons = examples(
        entries,
        synonyms,
        vectors,
        outside=[(q, found[q]) for q in questions],
        disliked=[(q, e, found[q]) for q, e in disliked],
        reuse=reuse,
    )
    return train(lessons)


async def train_and_store(
    db: Database,
    wanted: str,
    entries: Sequence[FaqEntry],
    synonyms: Mapping[str, str],
    vectors: Mapping[str, Vector] | None,
    embedder: semantic.Embedder | None,
    reuse: FaqIndex | None = None,
) -> Judge | None:
    """Train on the base and its lessons (off the event loop) and store the result, a
    judge or the fact that the base cannot teach one yet."""
    async with db.read() as tx:
        disliked, outside = await tx.faq_learning.for_training()
    started = time.perf_counter()
    judge = await asyncio.to_thread(
        trained, entries, synonyms, vectors, embedder, outside, disliked, reuse
    )
    seconds = round(time.perf_counter() - started, 2)
    async with db.write() as tx:
        record = {
            "fingerprint": wanted,
            "trained_at": tx.now().isoformat(),
            "seconds": seconds,
            "judge": judge.dumps() if judge else None,
            "figures": judge.figures if judge else {},
        }
        await tx.meta.set(JUDGE_KEY, json.dumps(record))
    if judge is None:
        log.info("FAQ judge: the knowledge base is too small to learn from; thresholds decide")
    else:
        log.info("FAQ judge trained in %.1f s: %s", seconds, judge.figures)
    return judge


def main() -> None:
    """Write the shipped base's judges (by meaning, where the model is installed, and by
    words) into default_judge.json."""
    from handlers.faq import default_vectors
    from handlers.faq.index_cache import default_entries, default_synonyms
    from handlers.faq.normalize import Synonyms

    entries, synonyms = list(default_entries()), default_synonyms()
    found = {}
    modes = [False] + ([True] if semantic.installed() is None else [])
    for semantic_on in modes:
        embedder = semantic.Embedder.shared() if semantic_on else None
        vectors = None
        if semantic_on:
            vectors = {k: semantic.from_bytes(v) for k, v in default_vectors.load().items()}
        judge = trained(entries, synonyms, vectors, embedder)
        if judge is not None:
            table = Synonyms(synonyms).table  # as the index holds it
            found[fingerprint(entries, table, semantic_on, LEARNED_NOTHING)] = judge.dumps()
    SHIPPED.write_text(json.dumps(found, indent=0) + "\n", encoding="utf-8")
    print(f"{len(found)} judges written into {SHIPPED.name}")


if __name__ == "__main__":
    main()
