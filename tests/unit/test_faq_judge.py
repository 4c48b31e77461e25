"""The FAQ's answer judge: learned from a knowledge base's own phrasings, kept as numbers,
and never guessing more than the bounds it was trained to (here on a broker's base the matcher
was not developed on, by words alone)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from handlers.faq.engine import FaqIndex
from handlers.faq.judge import (
    VERSION,
    VETO_SLACK,
    WRONG_AT_MOST,
    Judge,
    examples,
    shipped_outside,
    train,
)
from handlers.faq.kb_file import read_file

DATA = Path(__file__).resolve().parent.parent / "data"


def _broker() -> tuple[list, list[tuple[str, str]], list[str]]:
    entries = read_file(DATA / "faq_broker_kb.yaml")
    data = yaml.safe_load((DATA / "faq_broker_questions.yaml").read_text("utf-8"))
    return entries, [(d["q"], d["id"]) for d in data["in_scope"]], list(data["out_of_scope"])


def test_the_judge_answers_more_without_more_wrong_answers() -> None:
    entries, inside, outside = _broker()
    found = examples(entries, {}, None, outside=[(q, None) for q in shipped_outside()])
    assert len(found.right) > 100 and 0 < sum(found.right) < len(found.right)
    judge = train(found)
    assert judge is not None and judge.figures["wrong"] <= VETO_SLACK * WRONG_AT_MOST
    plain, judged = FaqIndex(entries, {}), FaqIndex(entries, {}, judge=judge)

    def score(index: FaqIndex) -> tuple[int, int, int]:
        right = wrong = 0
        for question, expected in inside:
            match = index.match(question)
            if match.outcome == "answer" and match.best is not None:
                right += match.best.entry.id == expected
                wrong += match.best.entry.id != expected
        false = sum(index.match(q).outcome == "answer" for q in outside)
        return right, wrong, false

    before, after = score(plain), score(judged)
    assert after[0] > before[0], (before, after)
    assert after[1] <= max(before[1], 0.02 * len(inside)) and after[2] <= 0.03 * len(outside)


def test_a_judge_is_plain_numbers_that_survive_a_round_trip() -> None:
    entries, inside, _ = _broker()
    judge = train(examples(entries, {}, None, outside=[(q, None) for q in shipped_outside()]))
    assert judge is not None
    again = Judge.loads(judge.dumps())
    assert again is not None and again.answer_at == judge.answer_at
    index = FaqIndex(entries, {})
    for question, _ in inside[:20]:
        signals = index.match(question).signals
        assert abs(judge.belief(signals) - again.belief(signals)) < 1e-9
    stale = judge.dumps().replace(f'"version": {VERSION}', '"version": 0')
    assert Judge.loads(stale) is None, "a judge of another version is trained again"


def test_a_base_too_small_to_learn_from_keeps_the_thresholds() -> None:
    entries, _, _ = _broker()
    tiny = [replace(e, variants=()) for e in entries[:5]]
    assert train(examples(tiny, {}, None, outside=[(q, None) for q in shipped_outside()])) is None
