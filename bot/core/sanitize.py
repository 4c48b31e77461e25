"""Text that cannot be stored is made storable before it is recorded, never refused.

A lone UTF-16 surrogate (JSON allows "\\ud800") cannot be encoded as UTF-8, and PostgreSQL
text cannot hold NUL; both become U+FFFD. The walk is iterative, so nesting depth is no risk.
"""

from __future__ import annotations

import re
from typing import Any

_BAD = re.compile("[\ud800-\udfff\x00]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    if text.isascii() and "\x00" not in text:
        return text
    return _BAD.sub(REPLACEMENT, text)


def clean(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string cleaned; dicts
    and lists are fixed in place, keys included."""
    if isinstance(value, str):
        return clean_text(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                item = node[key]
                if isinstance(item, str):
                    item = clean_text(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
                if isinstance(key, str) and clean_text(key) != key:
                    del node[key]
                    key = clean_text(key)
                node[key] = item
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = clean_text(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return value
