"""SMS consent in a chat: `/sms on|off` by the client for themselves (source chat), and
`/sms on|off ADDRESS_OR_ID` by staff for a client (source staff, audited). Consent lets topic
texts and risk alerts reach the client's phone; notices about their own account and tickets
need none. Nothing is sent by SMS here: the consent is recorded for the channel."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.router import UNHANDLED, Router
from bot.core.types import Inbound, Outbound
from handlers.shared.client_lookup import find_client
from handlers.shared.privacy import private_only
from handlers.shared.sms_consent import masked, state
from storage.records import Client
from storage.tx import Tx

router = Router("sms")

# What carriers take as "no more texts" (拒收请回复R, 回T退订, TD, N, 退订): by SMS only;
# in a chat TD and 退订 stop the topic subscriptions (the subscriptions feature).
OPT_OUT_WORDS = ("r", "td", "t", "n", "退订")

STAFF = frozenset({"advisor", "staff", "admin"})
WORDS = {"on": True, "off": False, "开": True, "关": False, "开启": True, "关闭": False}


@router.command("sms")
async def sms(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    args: list[str],
    roles: frozenset[str],
) -> Outbound:
    wanted = WORDS.get(args[0].lower()) if args else None
    if len(args) == 2 and roles & STAFF:
        if wanted is None:
            return Outbound(t("sms.staff_usage"))
        return await _for_client(event, tx, t, args[1], wanted)
    if len(args) > 1 or (args and wanted is None):
        usage = t("sms.usage")
        return Outbound(usage + ("\n" + t("sms.staff_usage") if roles & STAFF else ""))
    if refusal := private_only(event, t):
        return refusal
    phone = (await tx.files.fields(client.id)).phone
    if wanted is None:
        consent = await tx.sms.consent(client.id)
        return Outbound(
            t("sms.status", state=state(t, consent)) + "\n" + _number(t, phone) + "\n"
            + t("sms.usage")
        )  # fmt: skip
    await tx.sms.set_consent(client.id, wanted, "chat")
    return Outbound(t("sms.on" if wanted else "sms.off") + "\n" + _number(t, phone))


@router.keyword(*OPT_OUT_WORDS, exact=True, anytime=True)
async def opt_out_reply(event: Inbound, tx: Tx, client: Client) -> list[Outbound]:
    """A reply R/TD/T/N/退订 to a text: no topic text or alert goes to this number by SMS
    any more (notices about the client's account and tickets still do), recorded with its
    word and time. Not answered: a reply costs the client nothing, a text back costs us and
    is what they asked not to get."""
    if event.channel != "sms":
        return UNHANDLED
    number = event.chat.split(":", 1)[1]
    word = event.text.strip()[:20]
    if await tx.sms.opt_out(number, "reply", word):
        await tx.audit.log(event.sender, "client.sms_opt_out", client_id=client.id, word=word)
    return []


def _number(t: Translator, phone: str | None) -> str:
    return t("sms.number", phone=masked(phone)) if phone else t("sms.no_number")


async def _for_client(event: Inbound, tx: Tx, t: Translator, who: str, wanted: bool) -> Outbound:
    target = await find_client(tx, who)
    if target is None or target.erased_at is not None:
        return Outbound(t("clientfile.unknown", who=who[:60]))
    await tx.sms.set_consent(target.id, wanted, "staff")
    await tx.audit.log(event.sender, "client.sms_consent", client_id=target.id, consent=wanted)
    phone = (await tx.files.fields(target.id)).phone
    text = t("sms.staff_on" if wanted else "sms.staff_off", id=target.id)
    return Outbound(text + ("" if phone else "\n" + t("sms.staff_no_number", id=target.id)))
