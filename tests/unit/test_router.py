"""Router matching order, dependency injection and role checks."""

from __future__ import annotations

from typing import Any

from bot.core.dispatcher import Dispatcher
from bot.core.i18n import Catalog, Translator
from bot.core.router import Router
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


def _dispatcher() -> Dispatcher:
    root, child = Router("root"), Router("child")

    @root.keyword("订阅")
    async def keyword(rest: str) -> str:
        return f"keyword:{rest}"

    @child.state("waiting")
    async def state(state_data: dict[str, Any]) -> str:
        return f"state:{state_data}"

    @child.command("grant", roles=("admin",))
    async def grant(args: list[str]) -> str:
        return f"grant:{args}"

    @child.callback("sub")
    async def button(data: str) -> str:
        return f"button:{data}"

    @child.fallback()
    async def anything(event: Inbound) -> Outbound:
        return Outbound(f"fallback:{event.kind}")

    root.include(child)
    return Dispatcher(root, [])


async def run(event: Inbound, **ctx: Any) -> str:
    context = {
        "event": event,
        "tx": _Tx(),
        "t": Translator(Catalog(), "zh", "F"),
        "roles": frozenset({"client"}),
    }
    context.update(ctx)
    [out] = await _dispatcher().dispatch(event, context)
    return out.text


def ev(**fields: Any) -> Inbound:
    return Inbound("console", "console:a", "console:a", **fields)


async def test_keyword_prefix_and_rest() -> None:
    assert await run(ev(text="订阅 早盘")) == "keyword:早盘"
    assert await run(ev(text="订阅早盘")) == "keyword:早盘"


async def test_state_beats_keyword_but_not_command() -> None:
    state = ConversationState("console:a", "waiting", {"n": 1})
    assert await run(ev(text="订阅"), state=state) == "state:{'n': 1}"
    admin = frozenset({"client", "admin"})
    got = await run(ev(kind="command", command="grant", args=["x"]), state=state, roles=admin)
    assert got == "grant:['x']"


async def test_callback_prefix_needs_separator() -> None:
    assert await run(ev(kind="callback", callback_data="sub:t:news")) == "button:t:news"
    assert await run(ev(kind="callback", callback_data="subway")) == "fallback:callback"


async def test_role_refusal_is_logged() -> None:
    tx = _Tx()
    text = await run(ev(kind="command", command="grant", args=[]), tx=tx)
    assert "仅限" in text
    assert tx.audit.entries == [("console:a", "refused")]
