"""The FAQ as the rest of the bot sees it: a cached index over the knowledge base in storage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from handlers.faq.engine import FaqIndex, Match
from handlers.faq.kb_file import read_file
from storage.records import FaqEntry
from storage.tx import Tx

DEFAULT_KB = Path(__file__).with_name("default_kb.yaml")
DEFAULT_SYNONYMS = Path(__file__).with_name("default_synonyms.yaml")
DEFAULTS_KEY = "faq.defaults_loaded"
SYSTEM = "system"


def default_synonyms() -> dict[str, str]:
    """default_synonyms.yaml maps a canonical word to the terms read as it."""
    groups: dict[str, list[str]] = yaml.safe_load(DEFAULT_SYNONYMS.read_text("utf-8")) or {}
    return {term: canonical for canonical, terms in groups.items() for term in terms}


class FaqService:
    """Rebuilds the index only when entries or synonyms changed (any process may change them)."""

    def __init__(self) -> None:
        self._index: FaqIndex | None = None
        self._version: str | None = None  # the config version the index was checked against
        self._content: Any = None  # the knowledge base's own fingerprint
        self._lock = asyncio.Lock()

    async def index(self, tx: Tx) -> FaqIndex:
        """The index, rebuilt when entries or synonyms changed. The config version (known
        from the event's context, no query) says whether anything changed at all."""
        version = await tx.config_version()
        if self._index is not None and version == self._version:
            return self._index
        async with self._lock:
            content = await tx.faq.version()
            if self._index is None or content != self._content:
                entries = await tx.faq.entries(include_disabled=False)
                self._index = FaqIndex(entries, await tx.faq.synonyms())
                self._content = content
            self._version = version
        return self._index

    async def match(self, tx: Tx, text: str) -> Match:
        return (await self.index(tx)).match(text)

    @staticmethod
    async def save_all(tx: Tx, entries: list[FaqEntry], *, by: str) -> tuple[int, int]:
        """Insert or replace entries in the caller's transaction; (created, updated)."""
        created = 0
        for entry in entries:
            created += await tx.faq.save(entry, by=by)
        return created, len(entries) - created

    async def ensure_defaults(self, tx: Tx, *, load: bool = True) -> bool:
        """Load the shipped knowledge base and synonyms once per database (never, with
        `load` off when the database is new: a firm bringing its own)."""
        if await tx.meta.get(DEFAULTS_KEY):
            return False
        if not load:
            await tx.meta.set(DEFAULTS_KEY, f"skipped {tx.now().isoformat()}")
            return False
        await self.save_all(tx, read_file(DEFAULT_KB), by=SYSTEM)
        for term, canonical in default_synonyms().items():
            await tx.faq.set_synonym(term, canonical, by=SYSTEM)
        await tx.meta.set(DEFAULTS_KEY, tx.now().isoformat())
        return True
