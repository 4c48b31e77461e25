"""The custom menu file: read, checked against WeChat's rules with errors that name the
button, and turned into the JSON `menu/create` takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

MAX_TOP, MAX_SUB = 3, 5
TOP_NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES, URL_BYTES = 16, 60, 128, 1024
TYPES = frozenset({"click", "view"})


class MenuError(ValueError):
    """The file cannot be a WeChat menu; the message names the button."""


def load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MenuError(f"{path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise MenuError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                        f"{str(exc).splitlines()[0]}") from None  # fmt: skip
    return check(data)


def check(data: Any) -> dict[str, Any]:
    """The menu as WeChat takes it, or MenuError."""
    buttons = data.get("button") if isinstance(data, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP:
        raise MenuError(f"'button' must list 1 to {MAX_TOP} buttons")
    return {"button": [_top(b, i) for i, b in enumerate(buttons, 1)]}


def _top(button: Any, index: int) -> dict[str, Any]:
    where = f"button {index}"
    if not isinstance(button, dict):
        raise MenuError(f"{where}: must be a mapping with name and type or sub_button")
    name = _name(button, where, TOP_NAME_BYTES)
    subs = button.get("sub_button")
    if subs is None:
        return _leaf(button, where, name)
    if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB:
        raise MenuError(f"{where} ({name}): sub_button must list 1 to {MAX_SUB} buttons")
    return {
        "name": name,
        "sub_button": [
            _leaf(s, f"{where}.{j} ", _name(s, f"{where}.{j}", SUB_NAME_BYTES))
            for j, s in enumerate(subs, 1)
        ],
    }


def _name(button: Any, where: str, limit: int) -> str:
    name = button.get("name") if isinstance(button, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise MenuError(f"{where}: needs a name")
    if len(name.encode()) > limit:
        raise MenuError(f"{where} ({name}): name longer than {limit} bytes")
    return name.strip()


def _leaf(button: Any, where: str, name: str) -> dict[str, Any]:
    where = f"{where.strip()} ({name})"
    if not isinstance(button, dict):
        raise MenuError(f"{where}: must be a mapping")
    kind = button.get("type")
    if kind not in TYPES:
        raise MenuError(f"{where}: type must be click or view")
    field, limit = ("key", KEY_BYTES) if kind == "click" else ("url", URL_BYTES)
    value = button.get(field)
    if not isinstance(value, str) or not value.strip() or len(value.encode()) > limit:
        raise MenuError(f"{where}: a {kind} button needs a {field} of 1 to {limit} bytes")
    if kind == "view" and not value.startswith(("http://", "https://")):
        raise MenuError(f"{where}: url must start with http:// or https://")
    return {"type": kind, "name": name, field: value.strip()}
