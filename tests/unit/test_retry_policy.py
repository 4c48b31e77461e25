"""The retry policy is a pure function: each failure kind, and when to give up."""

from __future__ import annotations

from datetime import timedelta

from bot.core.delivery import RetryPolicy, SendFailure

POLICY = RetryPolicy(base=0.5, max_backoff=600, give_up_after=timedelta(days=2), max_uncertain=3)
NEW = timedelta(seconds=1)


def decide(reason: str, *, tries: int = 1, age: timedelta = NEW, bulk: bool = False, **kw: float):
    return POLICY.decide(SendFailure(reason, "x", **kw), tries=tries, age=age, bulk=bulk)


def test_final_failures() -> None:
    assert decide("blocked").status == "blocked"
    assert decide("rejected").status == "failed"


def test_transient_failures_back_off_then_wait_for_retry_after() -> None:
    assert [decide("retry", tries=n).wait for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert decide("retry", tries=30).wait == 600, "capped"
    assert decide("retry", tries=9, retry_after=17).wait == 17, "the platform's word wins"


def test_an_outage_is_waited_out_for_two_days_then_given_up() -> None:
    assert decide("retry", tries=500, age=timedelta(days=1, hours=23)).status == "retry"
    assert decide("retry", tries=500, age=timedelta(days=2, seconds=1)).status == "failed"


def test_a_send_that_may_have_arrived_is_repeated_for_a_person_never_for_bulk() -> None:
    assert decide("ambiguous", tries=1).status == "retry"
    assert decide("ambiguous", tries=3).status == "ambiguous", "not forever"
    assert decide("ambiguous", tries=1, bulk=True).status == "ambiguous"


def test_markup_and_vanished_messages_change_the_next_try() -> None:
    markup = decide("markup")
    assert (markup.status, markup.wait, markup.plain) == ("retry", 0.0, True)
    gone = decide("not_editable")
    assert (gone.status, gone.fresh) == ("retry", True)
