"""Subscribing to and unsubscribing from topics (seed: 订制与退订)."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.router import UNHANDLED, Router
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.privacy import private_only
from handlers.shared.topic_lookup import find_topics, looks_like_question
from storage.records import Client, Topic
from storage.tx import Tx

router = Router("subscriptions")


def _names(topics: list[Topic], t: Translator) -> str:
    return t("common.list_separator").join(topic.name(t.lang) for topic in topics)


async def topics_view(tx: Tx, client: Client, t: Translator, *, replace: bool = False) -> Outbound:
    """Every topic with a toggle button showing whether the client has it."""
    topics = await tx.topics.list()
    mine = set(await tx.subscriptions.of(client.id))
    lines = [t("subs.view_title")]
    buttons: list[list[Button]] = []
    for topic in topics:
        on = topic.key in mine
        lines.append(t("subs.line_on" if on else "subs.line_off", name=topic.name(t.lang)))
        buttons.append(
            [
                Button(
                    t("subs.button_on" if on else "subs.button_off", name=topic.name(t.lang)),
                    f"sub:t:{topic.key}",
                )
            ]
        )
    lines.append("")
    lines.append(t("subs.view_hint"))
    buttons.append([Button(t("subs.button_none"), "sub:none"), Button(t("menu.back"), "menu:main")])
    return Outbound("\n".join(lines), buttons=buttons, replace=replace)


def _unknown(t: Translator, words: list[str], topics: list[Topic]) -> str:
    valid = "\n".join(t("subs.valid_line", key=x.key, name=x.name(t.lang)) for x in topics)
    return t("subs.unknown", words=t("common.list_separator").join(words), valid=valid)


async def _change(
    event: Inbound, tx: Tx, client: Client, t: Translator, text: str, *, on: bool
) -> list[Outbound]:
    topics = await tx.topics.list()
    lookup = find_topics(text, topics)
    replies: list[Outbound] = []
    if lookup.unknown:
        replies.append(Outbound(_unknown(t, lookup.unknown, topics)))
    changed: list[Topic] = []
    unchanged: list[Topic] = []
    for topic in lookup.found:
        op = tx.subscriptions.subscribe if on else tx.subscriptions.unsubscribe
        did = await op(client.id, topic.key, channel=event.channel, actor=event.sender)
        (changed if did else unchanged).append(topic)
    verb = "subscribed" if on else "unsubscribed"
    if changed:
        replies.append(Outbound(t(f"subs.{verb}", names=_names(changed, t))))
    if unchanged:
        replies.append(Outbound(t(f"subs.already_{verb}", names=_names(unchanged, t))))
    return replies


async def stop_all(event: Inbound, tx: Tx, client: Client, t: Translator) -> Outbound:
    """Unsubscribe from everything and say exactly what stopped and how to come back."""
    stopped = await tx.subscriptions.unsubscribe_all(
        client.id, channel=event.channel, actor=event.sender
    )
    if not stopped:
        return Outbound(t("subs.nothing_to_stop"))
    names = _names([x for x in await tx.topics.list(include_disabled=True) if x.key in stopped], t)
    return Outbound(t("subs.stopped_all", count=len(stopped), names=names))


@router.command("topics")
async def list_topics(tx: Tx, client: Client, t: Translator) -> Outbound:
    return await topics_view(tx, client, t)


@router.command("subscribe", "sub")
async def subscribe_cmd(
    event: Inbound, tx: Tx, client: Client, t: Translator, args: list[str]
) -> Outbound | list[Outbound]:
    if not args:
        return await topics_view(tx, client, t)
    return await _change(event, tx, client, t, " ".join(args), on=True)


@router.command("unsubscribe", "unsub")
async def unsubscribe_cmd(
    event: Inbound, tx: Tx, client: Client, t: Translator, args: list[str]
) -> Outbound | list[Outbound]:
    if not args:
        return await topics_view(tx, client, t)
    return await _change(event, tx, client, t, " ".join(args), on=False)


@router.command("mysubs")
@router.keyword("我的订阅", "my subscriptions", exact=True)
async def my_subscriptions(event: Inbound, tx: Tx, client: Client, t: Translator) -> Outbound:
    if refusal := private_only(event, t):
        return refusal
    keys = await tx.subscriptions.of(client.id)
    buttons = [[Button(t("subs.manage"), "sub:view")]]
    if not keys:
        return Outbound(t("subs.mine_empty"), buttons=buttons)
    mine = [x for x in await tx.topics.list(include_disabled=True) if x.key in keys]
    lines = [t("subs.mine_title", count=len(keys))]
    lines += [t("subs.line_on", name=x.name(t.lang)) for x in mine]
    return Outbound("\n".join(lines), buttons=buttons)


# "TD" and "退订" on their own stop everything (the SMS convention clients know).
@router.keyword("td", "退订", "取消订阅", "unsubscribe", "stop", exact=True, anytime=True)
async def stop_everything(event: Inbound, tx: Tx, client: Client, t: Translator) -> Outbound:
    return await stop_all(event, tx, client, t)


@router.keyword("退订", "取消订阅", "unsubscribe")
async def unsubscribe_words(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    rest: str,
) -> Outbound | list[Outbound]:
    return await _words(event, tx, client, t, rest, on=False)


@router.keyword("订阅", "订制", "定制", "subscribe")
async def subscribe_words(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    rest: str,
) -> Outbound | list[Outbound]:
    if not rest:
        return await topics_view(tx, client, t)
    return await _words(event, tx, client, t, rest, on=True)


async def _words(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    rest: str,
    *,
    on: bool,
) -> Outbound | list[Outbound]:
    """ "订阅早盘" orders; "订阅要收费吗" or "退订了为什么还收到消息" asks: declined, so the
    FAQ answers it."""
    if await _is_question(tx, rest):
        return UNHANDLED
    return await _change(event, tx, client, t, rest, on=on)


async def _is_question(tx: Tx, rest: str) -> bool:
    return not find_topics(rest, await tx.topics.list()).found and looks_like_question(rest)


@router.callback("sub")
async def on_button(
    event: Inbound, tx: Tx, client: Client, t: Translator, data: str
) -> Outbound | list[Outbound]:
    if data == "view":
        return await topics_view(tx, client, t)
    if data == "none":
        return [await stop_all(event, tx, client, t), await topics_view(tx, client, t)]
    key = data.removeprefix("t:")
    topic = await tx.topics.get(key) if data.startswith("t:") else None
    if topic is None or not topic.enabled:
        return [Outbound(t("errors.stale_button")), await topics_view(tx, client, t)]
    mine = await tx.subscriptions.of(client.id)
    op = tx.subscriptions.unsubscribe if key in mine else tx.subscriptions.subscribe
    await op(client.id, key, channel=event.channel, actor=event.sender)
    return await topics_view(tx, client, t, replace=True)


@router.fallback("unfollow")
async def unfollowed(event: Inbound, tx: Tx) -> list[Outbound]:
    """The client unfollowed the official account: nothing more goes to that chat (what is
    under way for it stops), and there is nobody to answer. (A notice sent anyway meets the
    platform's refusal and ends as blocked.)"""
    ended = await tx.subscriptions.end_for_blocked([event.chat])
    await tx.audit.log(event.sender, "channel.unfollow", subscriptions=ended)
    return []
