"""Finding the topics a person meant: by key, Chinese or English name, or a unique part of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core.text import clean_input
from storage.records import Topic

ALL_WORDS = {"all", "全部", "所有", "全部订阅", "*"}
_SEPARATORS = re.compile(r"[\s,,、;;/|]+|和|及|与|跟|还有|以及|\band\b")
_QUESTION = re.compile(
    r"[??吗呢么]|什么|为什么|怎|如何|多少|哪|能不能|可不可以|是否|要不要|收费|"
    r"\b(how|what|why|when|where|which|can|does|do|is)\b"
)


@dataclass(slots=True)
class Lookup:
    found: list[Topic] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _match_one(word: str, topics: list[Topic]) -> Topic | None:
    w = word.casefold()
    for topic in topics:
        if w in (topic.key.casefold(), topic.name_zh.casefold(), topic.name_en.casefold()):
            return topic
    partial = [t for t in topics if w in t.name_zh or (len(w) >= 3 and w in t.name_en.casefold())]
    return partial[0] if len(partial) == 1 else None


def looks_like_question(text: str) -> bool:
    """'要收费吗' or 'how often' after 订阅 is a question about subscribing, not a topic."""
    return bool(_QUESTION.search(clean_input(text).casefold()))


def find_topics(text: str, topics: list[Topic]) -> Lookup:
    """Parse '早盘 risk, 晚盘' into topics; the whole text is tried first (English names)."""
    text = clean_input(text)
    result = Lookup()
    if not text:
        return result
    if text.casefold() in ALL_WORDS:
        return Lookup(found=list(topics))
    whole = _match_one(text, topics)
    if whole:
        result.found.append(whole)
        return result
    for word in filter(None, _SEPARATORS.split(text)):
        topic = _match_one(word, topics)
        if topic is None:
            result.unknown.append(word[:40])
        elif topic not in result.found:
            result.found.append(topic)
    return result
