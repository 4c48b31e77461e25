"""The FAQ as the rest of the bot sees it: a cached index over the knowledge base in storage.

With the semantic signal on, each phrasing's embedding comes from memory, else from the
file the shipped base's come in, else from the database (`faq_vectors`), else from the
model: phrasings not embedded yet are embedded in the background, outside any transaction,
and the index is rebuilt when they are stored. Questions are embedded before their batch's
transaction opens (`prepare`), so no write transaction waits on the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from bot.core.types import Inbound
from handlers.faq import default_vectors, judging, semantic
from handlers.faq.engine import FaqIndex, Match
from handlers.faq.kb_file import read_file
from handlers.faq.semantic import Vector
from storage.records import FaqEntry
from storage.tx import Tx

if TYPE_CHECKING:
    from storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_KB = default_vectors.KB
DEFAULT_SYNONYMS = Path(__file__).with_name("default_synonyms.yaml")
DEFAULTS_KEY = "faq.defaults_loaded"
SYSTEM = "system"
FILL_CHUNK = 32  # phrasings embedded, then stored in one short transaction
PREPARE_SECONDS = 10.0  # a batch waits at most this long for its questions' embeddings
TRAINING_GRACE = 30.0  # seconds a stopping bot lets the judge's training finish and be stored


@cache
def default_entries() -> tuple[FaqEntry, ...]:
    """The shipped base, read and checked once per process (every new database gets it)."""
    return tuple(read_file(DEFAULT_KB))


def default_synonyms() -> dict[str, str]:
    """default_synonyms.yaml maps a canonical word to the terms read as it."""
    return dict(_default_synonyms())


@cache
def _default_synonyms() -> dict[str, str]:
    """Parsed once per process, as `default_entries`: every new database loads it, and
    reading the YAML costs more than writing its rows."""
    groups: dict[str, list[str]] = yaml.safe_load(DEFAULT_SYNONYMS.read_text("utf-8")) or {}
    return {term: canonical for canonical, terms in groups.items() for term in terms}


class FaqService:
    """Rebuilds the index only when entries or synonyms changed (any process may change them).

    `semantic_on`: use sentence embeddings when the model is installed (else said once in the
    log, and matching is lexical); `db` lets it store embeddings it made in the background.
    """

    # The index built last in this process, by any service: a new one (a restarted App, a
    # second App on the same base, each test's) reuses its per-phrasing analysis, which is
    # most of a build; FaqIndex keeps it only while the synonyms are the same.
    _latest: ClassVar[FaqIndex | None] = None

    def __init__(
        self, *, semantic_on: bool = True, judge_on: bool = False, db: Database | None = None
    ) -> None:
        self._index: FaqIndex | None = None
        self.judge_on = judge_on
        self._training: asyncio.Task[Any] | None = None
        self._judged: tuple[FaqIndex, str] | None = None  # what the judge was last looked up for
        self._version: str | None = None  # the config version the index was checked against
        self._content: Any = None  # the knowledge base's own fingerprint
        self._lock = asyncio.Lock()
        self.db = db
        self.embedder: semantic.Embedder | None = None
        self._vectors: dict[str, Vector] | None = None
        self._fill: asyncio.Task[int] | None = None
        if semantic_on:
            problem = semantic.installed()
            if problem is None:
                self.embedder = semantic.Embedder.shared()
            else:
                log.warning("FAQ matching is lexical only: %s", problem)
        else:
            log.info("FAQ matching is lexical only (FAQ_SEMANTIC=off)")

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
                synonyms = await tx.faq.synonyms()
                self._index = await self._build(tx, entries, synonyms)
                self._content = content
            if self.judge_on:  # also when only what it learned from changed
                await self._judge(tx)
            self._version = version
        return self._index

    async def _judge(self, tx: Tx) -> None:
        """Use the judge stored for this base; with none, train one in the background once
        every phrasing is embedded (the judge reads the semantic signals it will see)."""
        index = self._index
        assert index is not None
        learned = await tx.faq_learning.version()
        if self._judged == (index, learned):
            return  # another setting moved the version: nothing the judge reads
        self._judged = (index, learned)
        table = index.synonyms.table  # normalised, as an index built from it holds it again
        wanted = judging.fingerprint(index.entries, table, index.semantic, learned)
        trained, judge = await judging.stored(tx, wanted)
        index.use(judge)
        if trained or self.db is None or (self.embedder is not None and index.missing()):
            return
        if self._training is not None and not self._training.done():
            return
        vectors = self._vectors if index.semantic else None
        work = judging.train_and_store(
            self.db, wanted, index.entries, table, vectors, self.embedder, reuse=index
        )
        try:
            self._training = asyncio.get_running_loop().create_task(work, name="faq-judge")
        except RuntimeError:
            work.close()
            return
        self._training.add_done_callback(self._trained)

    def _trained(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("training the FAQ judge failed: %r", task.exception())
            return
        self._content = self._version = None  # the next question picks the judge up

    @property
    def training(self) -> bool:
        return self._training is not None and not self._training.done()

    async def trained(self) -> None:
        """Wait for the judge's training under way, if any."""
        if self._training is not None:
            await asyncio.shield(self._training)

    async def _build(self, tx: Tx, entries: list[FaqEntry], synonyms: dict[str, str]) -> FaqIndex:
        previous = self._index or FaqService._latest
        vectors = None
        if self.embedder is not None:
            vectors = await _known(self.embedder, set(semantic.forms(entries)), tx)
        self._vectors = vectors
        index = FaqIndex(entries, synonyms, vectors=vectors, reuse=previous)
        FaqService._latest = index
        if self.embedder is not None and index.missing():
            self._start_fill()
        return index

    def _start_fill(self) -> None:
        if self.db is None or (self._fill is not None and not self._fill.done()):
            return
        try:
            self._fill = asyncio.get_running_loop().create_task(self.fill(), name="faq-embed")
        except RuntimeError:
            pass

    async def fill(
        self, db: Database | None = None, *, told: Callable[[int], None] | None = None
    ) -> int:
        """Embed and store every enabled phrasing without a stored vector; then the next
        `index()` rebuilds with them. `told(n)` hears how many before the work starts.
        Returns how many were embedded."""
        db, embedder = db or self.db, self.embedder
        if embedder is None or db is None:
            return 0
        async with db.read() as tx:
            entries = await tx.faq.entries(include_disabled=False)
            forms = semantic.forms(entries)
            need = set(forms) - default_vectors.load().keys()
            stored = await tx.faq.vectors(semantic.MODEL, need)
        embedder.vectors.update((k, semantic.from_bytes(v)) for k, v in stored.items())
        absent = sorted(need - stored.keys())  # not in this database
        made_here = {k: embedder.vectors[k] for k in absent if k in embedder.vectors}
        if made_here:  # embedded by this process for another database: store, not redo
            async with db.write() as tx:
                await tx.faq.save_vectors(
                    semantic.MODEL, {k: semantic.to_bytes(v) for k, v in made_here.items()}
                )
        todo = [k for k in absent if k not in made_here]
        if todo and told is not None:
            told(len(todo))
        for i in range(0, len(todo), FILL_CHUNK):
            keys = todo[i : i + FILL_CHUNK]
            try:
                made = await embedder.aembed([forms[k] for k in keys])
            except Exception as exc:
                self._give_up(exc)
                return i
            async with db.write() as tx:
                await tx.faq.save_vectors(
                    semantic.MODEL,
                    {k: semantic.to_bytes(v) for k, v in zip(keys, made, strict=True)},
                )
            embedder.vectors.update(zip(keys, made, strict=True))
        if todo:
            self._content = None  # rebuild with them on the next question
            self._version = None
            log.info("embedded %d FAQ phrasings", len(todo))
        return len(todo)

    async def caught_up(self) -> None:
        """Wait for the background embedding under way, if any."""
        if self._fill is not None:
            await asyncio.shield(self._fill)

    async def prepare(self, events: Sequence[Inbound]) -> None:
        """Embed a batch's questions before its transaction opens (best effort, bounded)."""
        if self.embedder is None or self._index is None or not self._index.semantic:
            return
        index, embedder = self._index, self.embedder
        forms = []
        for text in questions(events):
            form = semantic.embed_form(text)
            if form and embedder.cached_query(form) is None and not _verbatim(index.match(text)):
                forms.append(form)
        forms = list(dict.fromkeys(forms))
        if not forms:
            return
        try:
            async with asyncio.timeout(PREPARE_SECONDS):
                made = await embedder.aembed(forms)
        except TimeoutError:
            log.warning("embedding %d questions ahead took over %ss", len(forms), PREPARE_SECONDS)
            return
        except Exception as exc:
            self._give_up(exc)
            return
        embedder.remember_queries(forms, made)

    async def match(self, tx: Tx, text: str) -> Match:
        index = await self.index(tx)
        lexical = index.match(text)
        if self.embedder is None or not index.semantic or _verbatim(lexical):
            return lexical
        try:  # normally embedded by `prepare`; else now, unless the model is busy
            vector = await self.embedder.query(text, wait=False)
        except Exception as exc:
            self._give_up(exc)
            return lexical
        return lexical if vector is None else index.match(text, vector=vector)

    def _give_up(self, exc: BaseException) -> None:
        """The model cannot run here (a CPU it was not built for, a broken install): match
        by words from now on, and say so once."""
        if self.embedder is not None:
            log.error("FAQ matching is lexical only from now on: the model failed: %r", exc)
            self.embedder = None
            self._content = self._version = None  # rebuild without vectors

    async def close(self) -> None:
        """Stop the background embedding (what is stored stays; the next start resumes), and
        let a training under way finish and be stored."""
        if self._training is not None and not self._training.done():
            # Its thread runs to the end whatever happens (the process waits for it on exit):
            # let it store what it learned, so the next start does not train again.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._training), TRAINING_GRACE)
            self._training.cancel()
        self._training = None
        if self._fill is not None and not self._fill.done():
            self._fill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fill
        self._fill = None

    @staticmethod
    async def save_all(tx: Tx, entries: list[FaqEntry], *, by: str) -> tuple[int, int]:
        """Insert or replace entries in the caller's transaction; (created, updated)."""
        created = await tx.faq.save_many(entries, by=by)
        return created, len(entries) - created

    async def ensure_defaults(self, tx: Tx, *, load: bool = True) -> bool:
        """Load the shipped knowledge base and synonyms once per database (never, with
        `load` off when the database is new: a firm bringing its own). Their embeddings are
        read from the file they ship in, not copied into every database."""
        if await tx.meta.get(DEFAULTS_KEY):
            return False
        if not load:
            await tx.meta.set(DEFAULTS_KEY, f"skipped {tx.now().isoformat()}")
            return False
        await self.save_all(tx, list(default_entries()), by=SYSTEM)
        await tx.faq.set_synonyms(default_synonyms(), by=SYSTEM)
        await tx.meta.set(DEFAULTS_KEY, tx.now().isoformat())
        return True


async def _known(embedder: semantic.Embedder, wanted: set[str], tx: Tx) -> dict[str, Vector]:
    """The embedder's vectors, with those of `wanted` it lacked taken from the shipped
    base's file, then from the database."""
    known = embedder.vectors
    unknown = wanted - known.keys()
    if unknown:
        shipped = default_vectors.load()
        known.update((k, semantic.from_bytes(shipped[k])) for k in unknown & shipped.keys())
        unknown -= shipped.keys()
    if unknown:
        stored = await tx.faq.vectors(semantic.MODEL, unknown)
        known.update((k, semantic.from_bytes(v)) for k, v in stored.items())
    return known


def _verbatim(found: Match) -> bool:
    """The question is one of an entry's phrasings: the lexical answer needs no model."""
    return found.outcome == "answer" and found.best is not None and found.best.similarity >= 0.999


def questions(events: Sequence[Inbound]) -> list[str]:
    """The texts of a batch that may reach the FAQ: typed words, not a command."""
    return [
        e.text
        for e in events
        if e.kind == "text"
        and e.text
        and not e.text.startswith("/")
        and any(ch.isalpha() for ch in e.text)
    ]
