"""Role management (admins) and topic management (staff), all from the chat."""

from __future__ import annotations

import re

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound, normalize_address
from handlers.shared.assignment import requeue_from
from handlers.shared.desk_policy import DeskPolicy
from storage.records import Topic
from storage.tx import Tx

router = Router("admin")

GRANTABLE = ("staff", "advisor")
_TOPIC_KEY = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def _address(text: str) -> str | None:
    try:
        return normalize_address(text)
    except ValueError:
        return None


def named(t: Translator, role: str) -> str:
    """ "投资顾问(advisor)": the name people say, and the word /grant takes."""
    return t("role.named", name=t(f"role.{role}"), code=role)


@router.command("grant", roles=("admin",))
async def grant(event: Inbound, tx: Tx, t: Translator, args: list[str]) -> Outbound:
    address = _address(args[0]) if len(args) == 2 else None
    role = args[1].lower() if len(args) == 2 else ""
    if address is None or role not in GRANTABLE:
        return Outbound(t("admin.grant_usage"))
    if not await tx.roles.grant(address, role, by=event.sender):
        return Outbound(t("admin.already", address=address, role=named(t, role)))
    await tx.audit.log(event.sender, "grant", address=address, role=role)
    return Outbound(t("admin.granted", address=address, role=named(t, role)))


@router.command("revoke", roles=("admin",))
async def revoke(
    event: Inbound, tx: Tx, t: Translator, args: list[str], desk: DeskPolicy
) -> Outbound | list[Outbound]:
    address = _address(args[0]) if args else None
    role = args[1].lower() if len(args) > 1 else None
    if address is None or len(args) > 2 or (role is not None and role not in GRANTABLE):
        return Outbound(t("admin.revoke_usage"))
    gone = await tx.roles.revoke(address, role)
    if not gone:
        return Outbound(t("admin.nothing_to_revoke", address=address))
    await tx.audit.log(event.sender, "revoke", address=address, roles=gone)
    done = Outbound(
        t(
            "admin.revoked",
            address=address,
            roles=t("common.list_separator").join(named(t, r) for r in gone),
        )
    )
    if "advisor" not in gone:
        return done
    # Their cases must not wait for someone who can no longer answer them.
    return [done, *await requeue_from(tx, desk, t, address, actor=event.sender)]


@router.command("roles", roles=("admin",))
async def list_roles(tx: Tx, t: Translator) -> Outbound:
    rows = await tx.roles.all()
    if not rows:
        return Outbound(t("admin.no_roles"))
    lines = [t("admin.roles_title")] + [
        t("admin.role_line", address=a, role=named(t, r)) for a, r in rows
    ]
    return Outbound("\n".join(lines))


@router.command("topic", roles=("staff",))
async def manage_topic(tx: Tx, event: Inbound, t: Translator, args: list[str]) -> Outbound:
    """/topic add KEY 中文名 English name  |  /topic on KEY  |  /topic off KEY"""
    action = args[0].lower() if args else ""
    if action == "add" and len(args) >= 4 and _TOPIC_KEY.match(args[1]):
        existing = await tx.topics.get(args[1])
        topic = Topic(
            args[1],
            args[2][:100],
            " ".join(args[3:])[:100],
            advisory=existing.advisory if existing else True,
        )
        new = await tx.topics.upsert(topic)
        await tx.audit.log(event.sender, "topic.add" if new else "topic.edit", key=topic.key)
        return Outbound(t("admin.topic_saved", key=topic.key, name=topic.name(t.lang)))
    if action in ("on", "off") and len(args) == 2:
        topic = await tx.topics.get(args[1])
        if topic is None:
            return Outbound(t("admin.topic_unknown", key=args[1]))
        await tx.topics.upsert(
            Topic(
                topic.key,
                topic.name_zh,
                topic.name_en,
                topic.advisory,
                action == "on",
                topic.sort_order,
            )
        )
        await tx.audit.log(event.sender, f"topic.{action}", key=topic.key)
        return Outbound(t(f"admin.topic_{action}", key=topic.key))
    return Outbound(t("admin.topic_usage"))
