"""Keeping a judge with its knowledge base: trained in the background when the base (or what
it learned from use) changed, stored in `meta` under the base's fingerprint, so every
process, and every restart, uses the same one and trains it once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from handlers.faq import semantic
from handlers.faq.engine import FaqIndex
from handlers.faq.judge import Judge, examples, shipped_outside, train
from handlers.faq.semantic import Vector
from storage.records import FaqEntry
from storage.tx import Tx

if TYPE_CHECKING:
    from storage.database import Database

log = logging.getLogger(__name__)

JUDGE_KEY = "faq.judge"


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


async def fingerprint(tx: Tx, content: Any, semantic_on: bool) -> str:
    """The base's content version, what it learned from use and whether matching is by
    meaning too (a judge reads the signals it was trained on), in one string."""
    learned = await tx.faq_learning.version()
    return hashlib.sha1(repr((content, learned, semantic_on)).encode()).hexdigest()[:16]


async def stored(tx: Tx, wanted: str) -> tuple[bool, Judge | None]:
    """(whether a judge was trained for `wanted`, the judge if one could be)."""
    raw = await tx.meta.get(JUDGE_KEY)
    if not raw:
        return False, None
    data = json.loads(raw)
    if data.get("fingerprint") != wanted:
        return False, None
    return True, Judge.loads(data["judge"]) if data.get("judge") else None


async def last_training(tx: Tx) -> dict[str, Any] | None:
    raw = await tx.meta.get(JUDGE_KEY)
    return json.loads(raw) if raw else None


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
    questions = [*shipped_outside(), *outside]
    started = time.perf_counter()

    def work() -> Judge | None:
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

    judge = await asyncio.to_thread(work)
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
