"""FAQ matcher benchmark: accuracy on the development set, and speed on a 2,000-entry base.

    .venv/bin/python benchmarks/faq.py [--calibrate]

Prints index build time and p50/p99 match latency for a 2,000-entry knowledge base, top-1
accuracy and false answers on tests/data/faq_dev.yaml, and the same figures for a plain
baseline (rapidfuzz best ratio against the canonical questions).
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.faq.engine import FaqIndex  # noqa: E402
from handlers.faq.kb_file import read_file  # noqa: E402
from handlers.faq.service import DEFAULT_KB, default_synonyms  # noqa: E402
from storage.records import FaqEntry  # noqa: E402

DEV = ROOT / "tests" / "data" / "faq_dev.yaml"
BASELINE_THRESHOLD = 60.0


@dataclass
class Scores:
    top1: float
    answered_right: float
    answered_wrong: float
    false_answers: float


def load_dev() -> tuple[list[tuple[str, str]], list[str]]:
    data = yaml.safe_load(DEV.read_text("utf-8"))
    return [(d["q"], d["id"]) for d in data["in_scope"]], list(data["out_of_scope"])


def evaluate(index: FaqIndex, inside: list[tuple[str, str]], outside: list[str]) -> Scores:
    top1 = right = wrong = 0
    for question, expected in inside:
        match = index.match(question)
        best = match.best.entry.id if match.best else None
        top1 += best == expected
        if match.outcome == "answer":
            right += best == expected
            wrong += best != expected
    false = sum(index.match(q).outcome == "answer" for q in outside)
    n = len(inside)
    return Scores(top1 / n, right / n, wrong / n, false / len(outside))


def baseline(entries: list[FaqEntry], inside: list[tuple[str, str]], outside: list[str]) -> Scores:
    questions = {e.id: e.question for e in entries}

    def best(q: str) -> tuple[str, float]:
        _, score, key = process.extractOne(q, questions, scorer=fuzz.ratio)
        return key, score

    top1 = right = wrong = 0
    for question, expected in inside:
        key, score = best(question)
        top1 += key == expected
        if score >= BASELINE_THRESHOLD:
            right += key == expected
            wrong += key != expected
    false = sum(best(q)[1] >= BASELINE_THRESHOLD for q in outside)
    n = len(inside)
    return Scores(top1 / n, right / n, wrong / n, false / len(outside))


def synthetic(entries: list[FaqEntry], size: int, seed: int = 7) -> list[FaqEntry]:
    """Grow the base to `size` entries from shuffled pieces of the real texts."""
    rng = random.Random(seed)
    pieces = [p for e in entries for p in e.phrasings]
    out = list(entries)
    for i in itertools.count():
        if len(out) >= size:
            break
        base = rng.choice(entries)
        mix = [rng.choice(pieces) for _ in range(6)]
        phrasings = ["".join(rng.sample(m, len(m))) for m in mix]
        out.append(
            replace(base, id=f"synthetic-{i}", question=phrasings[0], variants=tuple(phrasings[1:]))
        )
    return out


def latency(index: FaqIndex, queries: list[str], rounds: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        for q in queries:
            start = time.perf_counter()
            index.match(q)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def calibrate(entries: list[FaqEntry], syn: dict[str, str], inside, outside) -> None:  # type: ignore[no-untyped-def]
    """The answer threshold that answers most in-scope questions correctly while at most 5%
    of out-of-scope ones get an answer; and the suggest threshold below it."""
    best = None
    for step in range(30, 80):
        answer_at = step / 100
        s = evaluate(FaqIndex(entries, syn, answer_at=answer_at), inside, outside)
        if s.false_answers <= 0.05 and (best is None or s.answered_right > best[0].answered_right):
            best = (s, answer_at)
    if best:
        s, answer_at = best
        print(
            f"best ANSWER_AT={answer_at}: answered right {s.answered_right:.1%}, "
            f"wrong {s.answered_wrong:.1%}, false answers {s.false_answers:.1%}"
        )
    for step in range(20, 50, 5):
        index = FaqIndex(entries, syn, suggest_at=step / 100)
        hit = sum(
            any(c.entry.id == e for c in m.candidates) and m.outcome != "none"
            for m, e in ((index.match(q), e) for q, e in inside)
        ) / len(inside)
        silent = sum(index.match(q).outcome == "none" for q in outside) / len(outside)
        print(
            f"SUGGEST_AT={step / 100:.2f}: right entry offered {hit:.1%}, "
            f"out-of-scope left alone {silent:.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="search the thresholds")
    args = parser.parse_args()
    entries = read_file(DEFAULT_KB)
    syn = default_synonyms()
    inside, outside = load_dev()
    print(
        f"knowledge base: {len(entries)} entries; dev set: {len(inside)} in scope, "
        f"{len(outside)} out of scope"
    )

    index = FaqIndex(entries, syn)
    ours = evaluate(index, inside, outside)
    plain = baseline(entries, inside, outside)
    print(f"{'':22}{'top-1':>8}{'answered ok':>13}{'answered wrong':>16}{'false answers':>15}")
    for name, s in (("engine", ours), (f"baseline (ratio>={BASELINE_THRESHOLD:.0f})", plain)):
        print(
            f"{name:22}{s.top1:>8.1%}{s.answered_right:>13.1%}{s.answered_wrong:>16.1%}"
            f"{s.false_answers:>15.1%}"
        )

    big = synthetic(entries, 2000)
    start = time.perf_counter()
    big_index = FaqIndex(big, syn)
    build = (time.perf_counter() - start) * 1000
    queries = [q for q, _ in inside] + outside
    p50, p99 = latency(big_index, queries)
    phrasings = sum(len(p) for p in big_index.phrasings)
    print(
        f"2,000 entries ({phrasings} phrasings): build {build:.0f} ms; "
        f"match p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    b50, b99 = latency_baseline(big, queries)
    print(f"baseline on 2,000 entries: match p50 {b50:.2f} ms, p99 {b99:.2f} ms")
    if args.calibrate:
        calibrate(entries, syn, inside, outside)


def latency_baseline(entries: list[FaqEntry], queries: list[str]) -> tuple[float, float]:
    questions = [e.question for e in entries]
    times = []
    for q in queries:
        start = time.perf_counter()
        process.extractOne(q, questions, scorer=fuzz.ratio)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


if __name__ == "__main__":
    main()
