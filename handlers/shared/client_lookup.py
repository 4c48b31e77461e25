"""Finding a client as staff name them: a file number or any of the client's addresses."""

from __future__ import annotations

from bot.core.types import normalize_address
from storage.records import Client
from storage.tx import Tx


async def find_client(tx: Tx, text: str) -> Client | None:
    """By internal id (digits) or by any of the client's addresses."""
    text = text.strip()
    if text.isdigit() and len(text) < 10:
        return await tx.clients.get(int(text))
    try:
        address = normalize_address(text)
    except ValueError:
        return None
    return await tx.clients.by_address(address)
