"""Upset and dialect detection: recall, false alarms and time per message, on the whole of
tests/data/upset.yaml and tests/data/dialect.yaml, and on the sets written without sight of
the lexicon (tests/data/upset_heldout*.yaml; the second never tuned on).

    .venv/bin/python benchmarks/mood.py [--verbose] [--snownlp]

Upset: recall over messages labelled upset; false alarms over the others (ordinary questions
that mention losses or money, and neutral ones), each part shown too. `--snownlp` also
scores the variant that adds SnowNLP's sentiment (a model trained on Chinese reviews) to the
lexicon at several cut-offs, to judge whether it earns its place on the hot path (it is
not a dependency: `pip install snownlp` first).
Dialect: each language's recall, and Mandarin read as anything else (the false alarm that
sends a kind "please write in Mandarin" to someone who did).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.shared.language import LANGUAGES, language_of  # noqa: E402
from handlers.shared.mood import Recent, Signal, upset  # noqa: E402

DATA = ROOT / "tests" / "data"
REPEAT = 20  # timing rounds over the whole set


def _load(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["messages"]


def _recent(item: dict[str, Any]) -> list[Recent]:
    return [(float(ago), str(text)) for ago, text in item.get("recent") or ()]


def _timed(fn: Callable[[dict[str, Any]], Any], items: list[dict[str, Any]]) -> list[float]:
    """Microseconds per message, each message timed over REPEAT rounds (caches warm, as
    they are on a live bot after the first minutes; the first call is reported apart)."""
    out = []
    for item in items:
        start = time.perf_counter()
        for _ in range(REPEAT):
            fn(item)
        out.append((time.perf_counter() - start) / REPEAT * 1e6)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spread(times: list[float]) -> str:
    return f"p50 {_pct(times, 0.5):.0f} µs, p99 {_pct(times, 0.99):.0f} µs, max {max(times):.0f} µs"


def upset_figures(items: list[dict[str, Any]], judge: Callable[[dict[str, Any]], bool]) -> str:
    upset_items = [i for i in items if i["label"] == "upset"]
    calm = [i for i in items if i["label"] != "upset"]
    hits = sum(judge(i) for i in upset_items)
    alarms = {
        lab: sum(judge(i) for i in calm if i["label"] == lab) for lab in ("ordinary", "neutral")
    }
    sizes = Counter(i["label"] for i in calm)
    total = sum(alarms.values())
    return (
        f"recall {hits}/{len(upset_items)} = {hits / len(upset_items):.3f}; "
        f"false alarms {total}/{len(calm)} = {total / len(calm):.3f} "
        f"(ordinary {alarms['ordinary']}/{sizes['ordinary']}, "
        f"neutral {alarms['neutral']}/{sizes['neutral']})"
    )


def run_upset(verbose: bool, snownlp: bool) -> None:
    items = _load("upset.yaml")
    signals: dict[int, Signal] = {id(i): upset(i["text"], _recent(i)) for i in items}
    print(f"== upset: {len(items)} messages {dict(Counter(i['label'] for i in items))}")
    print("lexicon:", upset_figures(items, lambda i: signals[id(i)].upset))
    for n in (2, 3):
        part = [i for i in items if i.get("round") == n]
        print(f"  round {n} ({len(part)}):", upset_figures(part, lambda i: signals[id(i)].upset))
    by_kind: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for item in items:
        if item["label"] == "upset":
            by_kind[item.get("kind", "?")] += 1
            missed[item.get("kind", "?")] += not signals[id(item)].upset
    print("recall by kind:", ", ".join(f"{k} {n - missed[k]}/{n}" for k, n in by_kind.items()))
    times = _timed(lambda i: upset(i["text"], _recent(i)), items)
    print(f"time per message: {_spread(times)}")
    if verbose:
        for item in items:
            signal = signals[id(item)]
            if signal.upset != (item["label"] == "upset"):
                print(f"  {item['label']:8} {signal.score:4} {item['text']}  {signal.reasons}")
    if snownlp:
        _snownlp(items, signals)


HELD_OUT = {
    "upset_heldout.yaml": "written blind, then tuned on once (so no longer held out)",
    "upset_heldout2.yaml": "written blind, never tuned on: the honest figure",
}


def run_heldout(verbose: bool) -> None:
    """Sets written apart from the lexicon by someone who never saw it: how the lexicon
    does on words it was not written for."""
    for name, what in HELD_OUT.items():
        if (DATA / name).exists():
            _heldout(name, what, verbose)


def _heldout(name: str, what: str, verbose: bool) -> None:
    items = _load(name)
    signals = {id(i): upset(i["text"], _recent(i)) for i in items}
    counts = dict(Counter(i["label"] for i in items))
    print(f"== {name} ({what}): {len(items)} messages {counts}")
    print("lexicon:", upset_figures(items, lambda i: signals[id(i)].upset))
    if verbose:
        for item in items:
            signal = signals[id(item)]
            if signal.upset != (item["label"] == "upset"):
                print(f"  {item['label']:8} {signal.score:4} {item['text']}  {signal.reasons}")


def _snownlp(items: list[dict[str, Any]], signals: dict[int, Signal]) -> None:
    start = time.perf_counter()
    from snownlp import SnowNLP  # optional: only to measure it (its model loads on import)

    _ = SnowNLP("加载").sentiments
    print(f"snownlp: first call (model load) {time.perf_counter() - start:.2f} s")
    sentiment = {id(i): SnowNLP(i["text"]).sentiments for i in items}
    times = _timed(lambda i: SnowNLP(i["text"]).sentiments, items)
    print(f"snownlp: time per message {_spread(times)}")
    for label in ("upset", "ordinary", "neutral"):
        values = [sentiment[id(i)] for i in items if i["label"] == label]
        print(f"snownlp: {label} sentiment median {statistics.median(values):.2f}")
    alone = lambda cut: lambda i: sentiment[id(i)] < cut  # noqa: E731
    for cut in (0.05, 0.1, 0.2, 0.3):
        print(f"snownlp alone < {cut}:", upset_figures(items, alone(cut)))
    for cut in (0.02, 0.05, 0.1, 0.2):
        for bonus in (0.5, 1.0):

            def added(i: dict[str, Any], cut: float = cut, bonus: float = bonus) -> bool:
                s = signals[id(i)]
                return s.score + (bonus if sentiment[id(i)] < cut else 0.0) >= s.upset_at

            print(f"lexicon + {bonus} when snownlp < {cut}:", upset_figures(items, added))
            part = [i for i in items if i.get("round") == 3]
            print("    round 3:", upset_figures(part, added))


def run_dialect(verbose: bool) -> None:
    items = _load("dialect.yaml")
    print(f"\n== dialect: {len(items)} messages {dict(Counter(i['label'] for i in items))}")
    got = {id(i): language_of(i["text"]) for i in items}
    confusion: Counter[tuple[str, str]] = Counter((i["label"], got[id(i)]) for i in items)
    print("label \\ detected  " + " ".join(f"{lang:>9}" for lang in LANGUAGES))
    for label in LANGUAGES:
        row = " ".join(f"{confusion[(label, lang)]:>9}" for lang in LANGUAGES)
        print(f"{label:16}  {row}")
    for label in ("cantonese", "english"):
        n = sum(1 for i in items if i["label"] == label)
        right = confusion[(label, label)]
        print(f"{label} recall {right}/{n} = {right / n:.3f}")
    mandarin = [i for i in items if i["label"] == "mandarin"]
    wrong = sum(got[id(i)] != "mandarin" for i in mandarin)
    print(f"mandarin read as another language (false alarms) {wrong}/{len(mandarin)} = "
          f"{wrong / len(mandarin):.3f}")  # fmt: skip
    right = sum(got[id(i)] == i["label"] for i in items)
    print(f"accuracy {right}/{len(items)} = {right / len(items):.3f}")
    from handlers.shared import language

    cold = _timed(lambda i: language._language_of(i["text"]), items)
    print(f"time per message (uncached): {_spread(cold)}")
    if verbose:
        for item in items:
            if got[id(item)] != item["label"]:
                print(f"  {item['label']:9} -> {got[id(item)]:9} {item['text']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--snownlp", action="store_true", help="evaluate SnowNLP sentiment too")
    args = parser.parse_args()
    start = time.perf_counter()
    upset("预热")  # the lexicon loads once per process
    language_of("预热")
    print(f"first calls (lexicon, OpenCC, detector): {(time.perf_counter() - start) * 1e3:.0f} ms")
    run_upset(args.verbose, args.snownlp)
    run_heldout(args.verbose)
    run_dialect(args.verbose)


if __name__ == "__main__":
    main()
