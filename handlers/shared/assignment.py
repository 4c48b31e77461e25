"""Who holds a ticket: an advisor on duty who reads the client's language (when the text is
Cantonese or English and one does), the client's own advisor when on duty, else the least
loaded one; and what happens to an advisor's open tickets when they lose the role (admin's
/role)."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.types import Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.language import language_of
from handlers.shared.ticket_notices import announce
from storage.tx import Tx


async def route(
    tx: Tx, preferred: str | None, *, avoid: str | None = None, text: str = ""
) -> str | None:
    """Among those on duty (readers of `text`'s language first, when it is not Mandarin and
    someone reads it): the client's own advisor, else the least loaded."""
    on_duty = [a for a in await tx.advisors.on_duty() if a != avoid]
    language = language_of(text) if text else "mandarin"
    if language != "mandarin" and on_duty:
        reads = await tx.advisors.languages()
        readers = [a for a in on_duty if language in reads.get(a, ())]
        on_duty = readers or on_duty
    if preferred in on_duty:
        return preferred
    if not on_duty:
        return None
    loads = await tx.tickets.loads(on_duty)
    return min(on_duty, key=lambda a: (loads[a], a))


async def requeue_from(
    tx: Tx, desk: DeskPolicy, t: Translator, advisor: str, *, actor: str
) -> list[Outbound]:
    """An advisor lost the role: each of their open tickets goes to someone else on duty
    (or back to the queue), and is announced again."""
    await tx.advisors.save(advisor, on_duty=False)
    outs: list[Outbound] = []
    for held in await tx.tickets.requeue(advisor):
        client = await tx.clients.get(held.client_id)
        file = await tx.files.fields(held.client_id)
        target = await route(tx, file.advisor if file else None, avoid=advisor, text=held.text)
        if target is not None:
            await tx.tickets.update(held.id, advisor=target)
        await tx.tickets.event(held.id, actor, "requeued", target)
        fresh = await tx.tickets.get(held.id)
        outs += await announce(tx, desk, t, fresh, client, why="requeued")  # type: ignore[arg-type]
    return outs
