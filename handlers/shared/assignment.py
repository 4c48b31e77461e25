"""Who holds a ticket: the client's own advisor when on duty, else the least loaded one; and
what happens to an advisor's open tickets when they lose the role (admin's /role)."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.types import Outbound
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.ticket_notices import announce
from storage.tx import Tx


async def route(tx: Tx, preferred: str | None, *, avoid: str | None = None) -> str | None:
    """The client's own advisor when on duty, else the least-loaded advisor on duty."""
    on_duty = [a for a in await tx.advisors.on_duty() if a != avoid]
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
        target = await route(tx, file.advisor if file else None, avoid=advisor)
        if target is not None:
            await tx.tickets.update(held.id, advisor=target)
        await tx.tickets.event(held.id, actor, "requeued", target)
        fresh = await tx.tickets.get(held.id)
        outs += await announce(tx, desk, t, fresh, client, why="requeued")  # type: ignore[arg-type]
    return outs
