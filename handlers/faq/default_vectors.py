"""The shipped knowledge base's embeddings, so that a new database embeds nothing.

    .venv/bin/python -m handlers.faq.default_vectors   # after editing default_kb.yaml

Writes `default_kb.vectors.npz` (float16, by digest of the embedded text); the tests check
that it covers every phrasing of the shipped base for the model in use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from handlers.faq import semantic
from handlers.faq.kb_file import read_file

KB = Path(__file__).with_name("default_kb.yaml")
FILE = Path(__file__).with_name("default_kb.vectors.npz")


def forms() -> dict[str, str]:
    """key -> embedded form, for every phrasing of the shipped base."""
    return semantic.forms(read_file(KB))


@cache
def load(model: str = semantic.MODEL) -> dict[str, bytes]:
    """digest -> stored vector bytes; empty when the file is for another model. Read once
    per process (every new database is given them)."""
    if not FILE.exists():
        return {}
    with np.load(FILE, allow_pickle=False) as data:
        if str(data["model"]) != model:
            return {}
        return {str(k): v.tobytes() for k, v in zip(data["digests"], data["vectors"], strict=True)}


def main() -> None:
    wanted = forms()
    keys = sorted(wanted)
    vectors = semantic.Embedder.shared().embed([wanted[k] for k in keys])
    np.savez_compressed(
        FILE,
        model=np.array(semantic.MODEL),
        digests=np.array(keys),
        vectors=vectors.astype(np.float16),
    )
    print(f"{len(keys)} phrasings embedded into {FILE.name}")


if __name__ == "__main__":
    main()
