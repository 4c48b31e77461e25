"""The log format: LOG_FORMAT=text (the default, for a person at a terminal) or json (one
object a line for a log collector: time, level, logger, message, exception, and the
channel, chat and ticket the line is about, from `bot.core.log_context`).

Unless LOG_PERSONAL=on, JSON lines carry no phone number: mainland mobiles (1[3-9] and nine
digits, with or without +86/0086/86) are masked as 139****5678 wherever they appear (the
message, the chat, the exception); message texts are kept out at the log calls themselves
(`log_context.shown`)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from bot.core import log_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    return PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, personal: bool = False) -> None:
        super().__init__()
        self.personal = personal

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(log_context.current())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        if not self.personal:
            line = {k: mask_phones(v) if isinstance(v, str) else v for k, v in line.items()}
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str, *, personal: bool) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(personal=personal)
    return logging.Formatter(TEXT_FORMAT)
