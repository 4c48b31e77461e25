"""What an SMS text must meet before it goes, by Alibaba Cloud's rules (domestic SMS):

- A template variable holds at most 35 characters (the default for 通知 and 推广 templates
  since 2018; a longer one needs the limit lifted for that template).
- The whole text, 【sign name】 and template with its variables filled in, is at most 500
  characters; every character counts one (Chinese, Latin, digit, space, punctuation).
- One part holds 70 characters; a longer text is billed per 67-character part.

Nothing is ever cut: a text over a limit raises `TextTooLong`, naming the limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from storage.records import sms_parts

VARIABLE_MAX = 35
TEXT_MAX = 500
SINGLE_PART = 70
PER_PART = 67
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class TextTooLong(ValueError):
    """A variable or a whole text over Alibaba's limit (`limit`, `length` in characters)."""

    def __init__(self, what: str, length: int, limit: int) -> None:
        super().__init__(f"{what} has {length} characters; Alibaba allows at most {limit}")
        self.what, self.length, self.limit = what, length, limit


def length(text: str) -> int:
    """Characters as Alibaba counts them: each one (a surrogate pair is one too)."""
    return len(text)


def parts(text: str) -> int:
    """Parts billed: one up to 70 characters, otherwise one per 67."""
    return sms_parts(length(text))


def check_variable(name: str, value: str, *, limit: int = VARIABLE_MAX) -> str:
    n = length(value)
    if n > limit:
        raise TextTooLong(f"variable ${{{name}}}", n, limit)
    return value


def variables(template: str) -> list[str]:
    """The variable names of a template text, in order, each once."""
    return list(dict.fromkeys(_VARIABLE.findall(template)))


@dataclass(frozen=True)
class SmsText:
    text: str  # as the phone shows it: 【sign】 and the filled template
    length: int
    parts: int


def render(
    sign_name: str,
    template: str,
    params: Mapping[str, str],
    *,
    variable_limit: int = VARIABLE_MAX,
) -> SmsText:
    """The text a template makes with these variables, checked against every limit; a
    variable missing or over its limit, or a text over 500 characters, raises."""
    for name in variables(template):
        if name not in params:
            raise KeyError(f"template variable ${{{name}}} has no value")
        check_variable(name, params[name], limit=variable_limit)
    body = _VARIABLE.sub(lambda m: params[m.group(1)], template)
    text = f"【{sign_name}】{body}"
    n = length(text)
    if n > TEXT_MAX:
        raise TextTooLong("the text with its sign name", n, TEXT_MAX)
    return SmsText(text, n, parts(text))
