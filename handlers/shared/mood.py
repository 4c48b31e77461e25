"""Is a client upset (情绪激动者)? Read from the text alone: abuse and accusations, blame and
threats, losses named together with blame, shouting marks and capitals, and the same message
again within minutes. Pure functions over a lexicon the firm can extend (mood_lexicon.yaml);
benchmarks/mood.py measures them on tests/data/upset.yaml.

Losses and money alone never count: "我上个月亏了2000,手续费怎么算?" is an ordinary
question in this trade, and answering it with sympathy instead of the answer is a failure."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from bot.core.folding import fold

LEXICON = Path(__file__).with_name("mood_lexicon.yaml")
Recent = tuple[float, str]  # an earlier message of the same client: seconds before, text
SHOUTING = re.compile(r"[!?]{2,}")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
SIMILAR = 85  # rapidfuzz ratio at which two messages are "the same again"
MIN_REPEAT = 2  # characters: "好" sent twice is an acknowledgement, not insistence


def _pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One regex for a word list: English words whole, Chinese anywhere."""
    folded = sorted({fold(str(w)).strip() for w in words if str(w).strip()}, key=len, reverse=True)
    parts = [
        rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])" if w.isascii() else re.escape(w) for w in folded
    ]
    return re.compile("|".join(parts) or r"(?!)")


@dataclass(frozen=True, slots=True)
class Lexicon:
    insult: re.Pattern[str]
    accuse: re.Pattern[str]
    doubt: re.Pattern[str]
    anger: re.Pattern[str]
    threat: re.Pattern[str]
    loss: re.Pattern[str]
    positive: re.Pattern[str]
    acronyms: frozenset[str]
    weights: dict[str, float]
    repeat_seconds: float = 600
    burst_seconds: float = 150
    burst_count: int = 2

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Lexicon:
        words = {
            name: _pattern(data.get(name) or ())
            for name in ("insult", "accuse", "doubt", "anger", "threat", "loss", "positive")
        }
        return cls(
            **words,
            acronyms=frozenset(str(a).lower() for a in data.get("acronyms") or ()),
            weights={k: float(v) for k, v in (data.get("weights") or {}).items()},
            repeat_seconds=float(data.get("repeat_seconds", 600)),
            burst_seconds=float(data.get("burst_seconds", 150)),
            burst_count=int(data.get("burst_count", 2)),
        )

    def w(self, name: str) -> float:
        return self.weights.get(name, 0.0)


@functools.cache
def default_lexicon() -> Lexicon:
    return Lexicon.parse(yaml.safe_load(LEXICON.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Signal:
    score: float
    reasons: tuple[str, ...] = field(default=())
    upset_at: float = 2.0

    @property
    def upset(self) -> bool:
        return self.score >= self.upset_at


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", fold(text))


def _shouting(original: str, folded: str, lex: Lexicon) -> tuple[float, str | None]:
    runs = SHOUTING.findall(folded)
    if runs:
        longest = max(runs, key=len)
        again = lex.w("shouting_more") if len(runs) > 1 else 0.0
        return lex.w("shouting_long" if len(longest) >= 3 else "shouting") + again, longest
    words = LATIN_WORD.findall(original)
    loud = [x for x in words if x.isupper() and x.lower() not in lex.acronyms]
    letters = sum(len(x) for x in words)
    if len(loud) >= 2 and sum(len(x) for x in loud) >= 0.6 * letters:
        return lex.w("caps"), "CAPS"
    return 0.0, None


def _repeats(text: str, recent: Sequence[Recent], lex: Lexicon) -> tuple[int, int]:
    """(how often the same text came before within the window, messages in the burst)."""
    bare = _bare(text)
    same = 0
    if len(bare) >= MIN_REPEAT:
        for ago, earlier in recent:
            if ago <= lex.repeat_seconds and fuzz.ratio(bare, _bare(earlier)) >= SIMILAR:
                same += 1
    burst = sum(1 for ago, _ in recent if ago <= lex.burst_seconds)
    return same, burst


def upset(text: str, recent: Sequence[Recent] = (), lexicon: Lexicon | None = None) -> Signal:
    """How upset `text` reads, with the reasons; `recent` are the client's messages just
    before it (seconds before, text), for repetition."""
    lex = lexicon or default_lexicon()
    folded = fold(text)
    score, reasons = 0.0, []
    insults = lex.insult.findall(folded)
    accusations = lex.accuse.findall(folded)
    asking = bool(lex.doubt.search(folded))
    if accusations and asking:  # "你们不是骗子吧?" asks; it does not accuse
        share = lex.w("doubt")
        reasons.append("doubt")
    else:
        share = 1.0
    hits = len(set(insults)) + len(set(accusations))
    if hits:
        first = lex.w("insult") * (1.0 if insults else share)
        score += first + lex.w("insult_more") * min(hits - 1, 2)
        reasons += [f"insult:{w}" for w in dict.fromkeys(insults)]
        reasons += [f"accuse:{w}" for w in dict.fromkeys(accusations)]
    anger = list(dict.fromkeys(lex.anger.findall(folded)))
    if anger:
        score += min(lex.w("anger") * len(anger), lex.w("anger_cap"))
        reasons += [f"anger:{w}" for w in anger]
    threats = list(dict.fromkeys(lex.threat.findall(folded)))
    if threats:
        full = lex.w("threat") + lex.w("threat_more") * min(len(threats) - 1, 2)
        # "12315 一般怎么处理?" asks about it; it threatens no one.
        score += full * (lex.w("doubt") if asking else 1.0)
        reasons += [f"threat:{w}" for w in threats]
    accusing = bool(insults) or (bool(accusations) and share == 1.0)
    if (accusing or anger or threats) and lex.loss.search(folded):
        score += lex.w("loss_blame")
        reasons.append("loss_blame")
    loud, mark = _shouting(text, folded, lex)
    # "老师辛苦了!!" and "THANK YOU" are joy: marks count only when nothing is positive.
    if loud and not (lex.positive.search(folded) and not (hits or anger or threats)):
        score += loud
        reasons.append(f"shouting:{mark}")
    same, burst = _repeats(text, recent, lex)
    if same:
        score += lex.w("repeat_more" if same >= 2 else "repeat")
        reasons.append(f"repeat:{same}")
    if burst >= lex.burst_count:
        score += lex.w("burst")
        reasons.append(f"burst:{burst}")
    return Signal(round(score, 2), tuple(reasons), lex.w("upset_at") or 2.0)
