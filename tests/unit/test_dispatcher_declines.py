"""A handler that declines (returns UNHANDLED or raises SkipHandler) passes the event on to the
next matching route, as in aiogram; roles are still enforced on the way."""

from __future__ import annotations

from typing import Any

from bot.core.dispatcher import Dispatcher
from bot.core.i18n import Catalog, Translator
from bot.core.router import UNHANDLED, Router, SkipHandler
from bot.core.types import Inbound, Outbound
from storage.records import ConversationState


class _Audit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    async def log(self, actor: str, action: str, **_detail: Any) -> None:
        self.entries.append((actor, action))


class _Tx:
    def __init__(self) -> None:
        self.audit = _Audit()


def ev(**fields: Any) -> Inbound:
    return Inbound("console", "console:a", "console:a", **fields)


async def run(root: Router, event: Inbound, **ctx: Any) -> list[str]:
    context: dict[str, Any] = {
        "event": event,
        "tx": _Tx(),
        "t": Translator(Catalog(), "zh", "F"),
        "roles": frozenset({"client"}),
    }
    context.update(ctx)
    return [out.text for out in await Dispatcher(root, []).dispatch(event, context)]


def _tree(calls: list[str]) -> Router:
    """A state handler that declines what is not a digit, a keyword that declines "订阅吗",
    a staff-only keyword, and the FAQ-like fallback that answers any text."""
    root, feature, staff, faq = Router("root"), Router("f"), Router("staff"), Router("faq")

    @feature.state("survey")
    async def survey(event: Inbound) -> str:
        calls.append("survey")
        return "score" if event.text.isdigit() else UNHANDLED

    @feature.keyword("订阅")
    async def subscribe(rest: str) -> str:
        calls.append("subscribe")
        if rest.endswith("吗"):
            raise SkipHandler(Outbound("note"))
        return f"subscribed:{rest}"

    @staff.keyword("群发", roles=("staff",))
    async def broadcast() -> str:
        return "sent"

    @faq.fallback("text")
    async def answer(event: Inbound) -> str:
        calls.append("faq")
        return f"faq:{event.text}"

    root.include(feature, staff, faq)
    return root


async def test_declining_passes_to_the_next_matching_route() -> None:
    calls: list[str] = []
    state = ConversationState("console:a", "survey", {})
    assert await run(_tree(calls), ev(text="5"), state=state) == ["score"]
    assert await run(_tree(calls), ev(text="why?"), state=state) == ["faq:why?"]
    assert calls == ["survey", "survey", "faq"]


async def test_a_declining_state_handler_lets_later_tiers_answer() -> None:
    """Passed on, the text is answered as if no flow were open: a keyword comes before the FAQ."""
    state = ConversationState("console:a", "survey", {})
    assert await run(_tree([]), ev(text="订阅早盘"), state=state) == ["subscribed:早盘"]


async def test_skip_handler_replies_go_out_first() -> None:
    calls: list[str] = []
    assert await run(_tree(calls), ev(text="订阅要钱吗")) == ["note", "faq:订阅要钱吗"]
    assert calls == ["subscribe", "faq"]


async def test_roles_are_enforced_after_a_decline() -> None:
    tx = _Tx()
    state = ConversationState("console:a", "survey", {})
    got = await run(_tree([]), ev(text="群发"), state=state, tx=tx)
    assert len(got) == 1 and "仅限" in got[0]
    assert tx.audit.entries == [("console:a", "refused")]
    staff = frozenset({"staff"})
    assert await run(_tree([]), ev(text="群发"), state=state, roles=staff) == ["sent"]


async def test_nothing_left_to_answer_is_no_reply() -> None:
    root = Router("root")

    @root.fallback("text")
    async def declines() -> Any:
        return UNHANDLED

    assert await run(root, ev(text="hi")) == []
    assert await run(_tree([]), ev(kind="photo")) == []


async def test_replies_of_a_decline_survive_when_nobody_else_answers() -> None:
    root = Router("root")

    @root.fallback()
    async def declines() -> Any:
        raise SkipHandler(Outbound("expired"))

    assert await run(root, ev(kind="photo")) == ["expired"]
