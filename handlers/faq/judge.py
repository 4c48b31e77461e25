"""A learned answer judge, one per knowledge base: is the best candidate the answer?

The matcher ranks well, but its scores do not say when it is right. The judge is a logistic
regression over what the matcher already computes for the best candidate and its rivals
(`engine.FaqIndex._signals`), trained on examples the base gives for free:

- each entry's phrasings held out in turn (an index built without them): the best candidate
  is the entry (answer) or another (a hard negative, the confusable pair);
- questions no FAQ should answer (`out_of_scope.yaml`, and the firm's own): answer nothing;
- what clients said of answers (a 👎 on an answer is a negative for that pairing).

The answer threshold is set from cross-validated beliefs so that wrong answers stay below
`WRONG_AT_MOST` of the in-scope examples and out-of-scope answers below `OUTSIDE_AT_MOST`;
what the matcher's thresholds would answer goes through unless the judge doubts it.
Training needs scikit-learn; deciding is a dot product, so a trained judge is plain numbers
(JSON, stored with the base) and costs nothing per question.
"""

from __future__ import annotations

import base64
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from handlers.faq.engine import FaqIndex, Match, Outcome
from handlers.faq.semantic import DIM, Vector, key
from storage.records import FaqEntry

SIGNALS = (
    "confidence", "similarity", "order_margin", "confidence_margin", "similarity_margin",
    "bm25_share", "bm25_rival", "cosine", "cosine_margin", "embedded", "rankings_agree",
    "unknown_words", "phrasing_coverage", "query_terms", "length_ratio", "verbatim",
    "outside_cosine", "outside_margin",
)  # fmt: skip
OUT_OF_SCOPE = Path(__file__).with_name("out_of_scope.yaml")
VERBATIM = 0.9  # a "not ours" question this close to a phrasing of the base is the base's
FOLDS = 8  # rounds of holding one phrasing per entry out
MAX_EXAMPLES = 1000  # held-out phrasings matched per training, up to LARGE entries,
LARGE = 800  # then fewer, in proportion (a match costs in proportion to the base's size),
MIN_HELD = 500  # but never fewer than this
MIN_EXAMPLES = 40  # below this a base teaches nothing reliable: thresholds decide
# Bounds on the cross-validated examples, chosen on the calibration part of
# tests/data/faq_dev.yaml (benchmarks/faq.py): held-out phrasings of a base are harder than
# clients' questions (its confusable pairs), so these bounds are looser than the targets.
WRONG_AT_MOST = 0.02  # of the in-scope examples answered with the wrong entry
OUTSIDE_AT_MOST = 0.06  # of the out-of-scope examples answered at all
# The thresholds' own answers are vetoed only where the judge doubts them: the bounds for
# letting them through are this much looser (the thresholds were tuned on clients' questions).
VETO_SLACK = 2.0
SUGGEST_SHARE = 0.5  # suggestions from this share of the answer threshold's belief
VERSION = 2


@cache
def shipped_outside() -> tuple[str, ...]:
    return tuple(str(q) for q in yaml.safe_load(OUT_OF_SCOPE.read_text("utf-8")) or [])


@dataclass(frozen=True)
class Judge:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    answer_at: float
    suggest_at: float
    veto_at: float
    figures: dict[str, Any] = field(default_factory=dict)
    outside: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_w", np.asarray(self.weights) / np.asarray(self.scale))
        object.__setattr__(self, "_b", self.bias - float(np.dot(self.mean, self._w)))

    def belief(self, signals: tuple[float, ...]) -> float:
        z = float(np.dot(signals, self._w)) + self._b  # type: ignore[attr-defined]
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def outcome(self, belief: float, rule: Outcome) -> Outcome:
        """Answer what the judge is sure of, and what the thresholds would answer unless the
        judge doubts it (then offer it); offer what it half believes."""
        if belief >= self.answer_at or (rule == "answer" and belief >= self.veto_at):
            return "answer"
        if rule != "none" or belief >= self.suggest_at:
            return "suggest"
        return "none"

    def dumps(self) -> str:
        body = {k: getattr(self, k) for k in ("mean", "scale", "weights", "bias")}
        body |= {k: getattr(self, k) for k in ("answer_at", "suggest_at", "veto_at")}
        if self.outside is not None:
            body["outside"] = base64.b64encode(self.outside.astype(np.float16).tobytes()).decode()
        return json.dumps({"version": VERSION, "signals": SIGNALS, **body, **self.figures})

    @classmethod
    def loads(cls, text: str) -> Judge | None:
        """None for a judge of another version or other signals (train again)."""
        data = json.loads(text)
        if data.get("version") != VERSION or tuple(data.get("signals", ())) != SIGNALS:
            return None
        fixed = ("mean", "scale", "weights", "bias", "answer_at", "suggest_at", "veto_at")
        figures = {k: v for k, v in data.items()
                   if k not in (*fixed, "version", "signals", "outside")}  # fmt: skip
        outside = None
        if data.get("outside"):
            flat = np.frombuffer(base64.b64decode(data["outside"]), dtype=np.float16)
            outside = flat.reshape(-1, DIM).astype(np.float32)
        return cls(
            tuple(data["mean"]), tuple(data["scale"]), tuple(data["weights"]), data["bias"],
            data["answer_at"], data["suggest_at"], data["veto_at"], figures, outside,
        )  # fmt: skip


@dataclass
class Examples:
    outside: np.ndarray | None = None  # embeddings of the "not ours" questions
    signals: list[tuple[float, ...]] = field(default_factory=list)
    right: list[int] = field(default_factory=list)  # the best candidate is the answer
    inside: list[bool] = field(default_factory=list)  # the question has an answer
    rule: list[bool] = field(default_factory=list)  # the thresholds alone would answer

    def add(self, match: Match, right: bool, inside: bool) -> None:
        self.signals.append(match.signals)
        self.right.append(int(right))
        self.inside.append(inside)
        self.rule.append(match.outcome == "answer")


def examples(
    entries: Sequence[FaqEntry],
    synonyms: Mapping[str, str],
    vectors: Mapping[str, Vector] | None,
    *,
    outside: Iterable[tuple[str, Vector | None]] = (),
    disliked: Iterable[tuple[str, str, Vector | None]] = (),
    seed: int = 7,
    reuse: FaqIndex | None = None,
) -> Examples:
    """Labelled signals from the base itself (see the module's doc). `outside`: (question,
    its embedding); `disliked`: (question, entry id a client said did not answer it, its
    embedding); `reuse`: the live index, whose analysis of each phrasing is kept."""
    rng = random.Random(seed)
    entries = [e for e in entries if e.enabled]
    full = FaqIndex(entries, synonyms, vectors=vectors, reuse=reuse)
    # A match costs in proportion to the base: fewer held out from a large one.
    limit = (
        MAX_EXAMPLES
        if len(entries) <= LARGE
        else max(MIN_HELD, MAX_EXAMPLES * LARGE // len(entries))
    )
    # A shipped "not ours" question that this base answers (one of its phrasings) is its.
    outside = [
        (q, v)
        for q, v in outside
        if (m := full.match(q, vector=v)).best is None or m.best.similarity < VERBATIM
    ]
    found = Examples(outside=_matrix([v for _, v in outside]))
    order = {e.id: rng.sample(list(dict.fromkeys(e.phrasings)), len(set(e.phrasings)))
             for e in entries}  # fmt: skip
    several = sum(len(o) > 1 for o in order.values())
    folds = min(FOLDS, max(1, math.ceil(limit / several))) if several else 0
    rounds = [
        {e.id: order[e.id][fold] for e in entries if len(order[e.id]) > fold + 1}
        for fold in range(folds)
    ]
    pending = sum(len(h) for h in rounds)
    keep = min(1.0, limit / pending) if pending else 0.0
    previous = full
    for held in rounds:
        chosen = {i: p for i, p in held.items() if rng.random() < keep}
        if not chosen:
            continue
        kept = [_without(e, chosen.get(e.id)) for e in entries]
        index = FaqIndex(kept, synonyms, vectors=vectors, reuse=previous)
        index.outside = found.outside
        previous = index
        for entry_id, phrasing in chosen.items():
            vector = vectors.get(key(phrasing)) if vectors else None
            match = index.match(phrasing, vector=vector)
            if match.best is not None:
                found.add(match, match.best.entry.id == entry_id, True)
    # Each half of the "not ours" questions is judged against the other half.
    halves = (outside[0::2], outside[1::2])
    for mine, other in (halves, halves[::-1]):
        full.outside = _matrix([v for _, v in other])
        for question, vector in mine:
            match = full.match(question, vector=vector)
            if match.best is not None:
                found.add(match, False, False)
    full.outside = found.outside
    for question, entry_id, vector in disliked:
        match = full.match(question, vector=vector)
        if match.best is not None and match.best.entry.id == entry_id:
            found.add(match, False, True)
    return found


def _matrix(vectors: Sequence[Vector | None]) -> np.ndarray | None:
    rows = [v for v in vectors if v is not None]
    return np.vstack(rows).astype(np.float32) if rows else None


def _without(entry: FaqEntry, phrasing: str | None) -> FaqEntry:
    if phrasing is None:
        return entry
    if entry.question == phrasing:
        rest = [v for v in entry.variants if v != phrasing]
        return replace(entry, question=rest[0], variants=tuple(rest[1:]))
    return replace(entry, variants=tuple(v for v in entry.variants if v != phrasing))


def train(found: Examples) -> Judge | None:
    """A judge from the examples, or None when they cannot teach one (too few, one class)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = np.asarray(found.right)
    if len(y) < MIN_EXAMPLES or y.min() == y.max() or min(y.sum(), len(y) - y.sum()) < 5:
        return None
    x = np.asarray(found.signals, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    model = LogisticRegression(C=1.0, max_iter=500)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    beliefs = cross_val_predict(model, z, y, cv=folds, method="predict_proba")[:, 1]
    at = thresholds(beliefs, y, np.asarray(found.inside), np.asarray(found.rule))
    model.fit(z, y)
    return Judge(
        tuple(mean.tolist()), tuple(scale.tolist()), tuple(model.coef_[0].tolist()),
        float(model.intercept_[0]), at.answer, at.answer * SUGGEST_SHARE, at.veto, at.figures,
        found.outside,
    )  # fmt: skip


@dataclass
class Thresholds:
    answer: float
    veto: float
    figures: dict[str, Any]


def thresholds(
    beliefs: np.ndarray, right: np.ndarray, inside: np.ndarray, rule: np.ndarray
) -> Thresholds:
    """The lowest belief to answer at on the judge's word alone, then the lowest to let the
    thresholds' answers through at, with wrong and out-of-scope answers within bounds; and
    what they give on the (cross-validated) examples."""
    n_in, n_out = max(int(inside.sum()), 1), max(int((~inside).sum()), 1)
    levels = sorted(set(np.round(beliefs, 4).tolist()), reverse=True)

    def fits(answered: np.ndarray, slack: float = 1.0) -> bool:
        wrong = int((answered & inside & (right == 0)).sum())
        return wrong <= slack * WRONG_AT_MOST * n_in and int((answered & ~inside).sum()) <= (
            slack * OUTSIDE_AT_MOST * n_out
        )

    answer = 1.0
    for at in levels:
        if not fits(beliefs >= at):
            break
        answer = at
    veto = answer
    for at in levels:
        if at >= answer:
            continue
        if not fits((beliefs >= answer) | (rule & (beliefs >= at)), VETO_SLACK):
            break
        veto = at
    answered = (beliefs >= answer) | (rule & (beliefs >= veto))
    figures = {
        "examples": len(right),
        "direct": round(float((answered & inside & (right == 1)).sum()) / n_in, 4),
        "wrong": round(float((answered & inside & (right == 0)).sum()) / n_in, 4),
        "outside_answered": round(float((answered & ~inside).sum()) / n_out, 4),
    }
    return Thresholds(float(answer), float(veto), figures)
