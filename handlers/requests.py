"""Complaints and requests for an advisor, taken down in the client's words.

Seed rule: a question the front line cannot answer is written down completely and
answered later by someone who knows; never guessed. The request keeps its archive id
as a reference number the client can quote.
"""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.state import StateControl
from bot.core.types import Inbound, Outbound
from handlers.menu import main_menu
from storage.records import Client
from storage.tx import Tx

router = Router("requests")


@router.callback("req")
async def cancel(data: str, t: Translator, fsm: StateControl) -> Outbound:
    await fsm.clear()
    return Outbound(t("request.cancelled"), buttons=main_menu(t), replace=True)


@router.state("request.complaint", "request.advisor")
async def take_down(
    event: Inbound,
    tx: Tx,
    client: Client,
    fsm: StateControl,
    t: Translator,
    message_id: int,
) -> Outbound:
    kind = (fsm.name or "request.advisor").split(".", 1)[1]
    if event.kind != "text" or not event.text.strip():
        return Outbound(t("request.need_text"))
    await tx.audit.log(event.sender, f"request.{kind}", client_id=client.id, message_id=message_id)
    await fsm.clear()
    return Outbound(t(f"request.{kind}_recorded", ref=message_id), buttons=main_menu(t))
