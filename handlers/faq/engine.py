"""FAQ matching in two stages.

1. Rank entries with BM25 over each entry's whole vocabulary (character unigrams, bigrams
   and pinyin bigrams for Chinese, stemmed words for English; a term's frequency is the
   number of the entry's phrasings that use it), so a question built from words of
   several phrasings still finds its entry.
2. Re-rank the few best with their closest single phrasing (IDF-weighted overlap blended
   with a fuzzy character ratio, which forgives typos), and judge confidence by how much
   of the question the entry's vocabulary explains: answer, suggest, or hand over.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

from handlers.faq.normalize import Synonyms, normalize, tokens
from storage.records import FaqEntry

Outcome = Literal["answer", "suggest", "none"]

# Calibrated with benchmarks/faq.py --calibrate on tests/data/faq_dev.yaml.
ANSWER_AT = 0.48
SUGGEST_AT = 0.25
CLOSEST_AT = 0.0  # the closest phrasing must be at least this similar to answer
TIE = 0.05  # another entry this close in confidence makes the question ambiguous,
SIMILAR_GAP = 0.2  # unless our closest phrasing is clearly closer than theirs
K1, B = 1.2, 0.75
RANK_WEIGHT = 0.6  # entry BM25 (relative to the best) vs closest-phrasing similarity
FUZZ_WEIGHT = 0.3
SHORTLIST = 5
MAX_QUERY = 500  # characters looked at; a pasted essay is not a question


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: FaqEntry
    score: float  # confidence in [0, 1]: how much of the question the entry explains
    phrasing: str  # the entry's phrasing closest to the question
    similarity: float = 0.0  # to that phrasing


@dataclass(frozen=True, slots=True)
class Match:
    outcome: Outcome
    candidates: list[Candidate] = field(default_factory=list)
    normalized: str = ""

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True, slots=True)
class _Phrasing:
    text: str
    terms: frozenset[str]
    weight: float  # summed IDF of its terms


class FaqIndex:
    """An immutable index over the enabled entries; rebuild it when the knowledge base changes."""

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        synonyms: Mapping[str, str] | None = None,
        *,
        answer_at: float = ANSWER_AT,
        suggest_at: float = SUGGEST_AT,
        closest_at: float = CLOSEST_AT,
        tie: float = TIE,
    ) -> None:
        self.synonyms = Synonyms(synonyms or {})
        self.entries = [e for e in entries if e.enabled]
        self.answer_at, self.suggest_at = answer_at, suggest_at
        self.closest_at, self.tie = closest_at, tie
        texts = [self._phrasings(e) for e in self.entries]
        vocab = [Counter(t for _, terms in ph for t in terms) for ph in texts]
        n = max(len(self.entries), 1)
        df = Counter(t for v in vocab for t in v)
        self.idf = {t: math.log(1 + (n - k + 0.5) / (k + 0.5)) for t, k in df.items()}
        self.unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self.vocab = [frozenset(v) for v in vocab]
        self.length = [sum(v.values()) for v in vocab]
        self.avg_length = sum(self.length) / n if self.entries else 1.0
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, v in enumerate(vocab):
            for term, tf in v.items():
                self.postings[term].append((i, tf))
        self.phrasings = [
            [_Phrasing(text, terms, sum(self.idf[t] for t in terms)) for text, terms in ph]
            for ph in texts
        ]
        # Known English words by length, to put a misspelt one ("acount") right cheaply.
        self.words: dict[int, list[str]] = defaultdict(list)
        for term in sorted(self.idf):
            if term.isascii() and term.isalpha() and len(term) > 3:
                self.words[len(term)].append(term)

    def _phrasings(self, entry: FaqEntry) -> list[tuple[str, frozenset[str]]]:
        seen: dict[str, frozenset[str]] = {}
        for phrasing in entry.phrasings:
            text = normalize(phrasing, self.synonyms)
            if text and text not in seen:
                seen[text] = frozenset(tokens(text))
        return list(seen.items())

    def __len__(self) -> int:
        return len(self.entries)

    def normalize(self, text: str) -> str:
        return normalize(text, self.synonyms)

    def match(self, text: str, *, limit: int = 3) -> Match:
        norm = self.normalize(text[:MAX_QUERY])
        query = frozenset(self._spell(t) for t in tokens(norm))
        bm25 = self._bm25(query)
        if not bm25:
            return Match("none", [], norm)
        top = max(bm25.values())
        q_weight = sum(self.idf.get(t, self.unknown_idf) for t in query)
        compact = norm.replace(" ", "")
        ranked = []
        for i in sorted(bm25, key=bm25.__getitem__, reverse=True)[:SHORTLIST]:
            similarity, phrasing = self._closest(i, query, q_weight, compact)
            coverage = sum(self.idf[t] for t in query & self.vocab[i]) / q_weight
            order = RANK_WEIGHT * bm25[i] / top + (1 - RANK_WEIGHT) * similarity
            candidate = Candidate(
                self.entries[i], round(coverage, 4), phrasing, round(similarity, 4)
            )
            ranked.append((order, candidate))
        ranked.sort(key=lambda pair: pair[0], reverse=True)
        candidates = [c for _, c in ranked]
        return Match(self._outcome(candidates), candidates[:limit], norm)

    def _spell(self, term: str) -> str:
        if term in self.idf or not term.isascii() or not term.isalpha() or len(term) < 4:
            return term
        n = len(term)
        nearby = self.words.get(n - 1, []) + self.words.get(n, []) + self.words.get(n + 1, [])
        found = process.extractOne(term, nearby, scorer=fuzz.ratio, score_cutoff=80)
        return found[0] if found else term

    def _bm25(self, query: frozenset[str]) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for term in query:
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i, tf in self.postings[term]:
                norm = 1 - B + B * self.length[i] / self.avg_length
                scores[i] += idf * tf * (K1 + 1) / (tf + K1 * norm)
        return scores

    def _closest(
        self, entry: int, query: frozenset[str], q_weight: float, compact: str
    ) -> tuple[float, str]:
        """Similarity to the entry's closest phrasing: weighted Dice blended with a fuzzy ratio."""
        best, text = 0.0, ""
        for p in self.phrasings[entry]:
            shared = sum(self.idf[t] for t in query & p.terms)
            dice = 2 * shared / (q_weight + p.weight) if q_weight + p.weight else 0.0
            ratio = fuzz.ratio(compact, p.text.replace(" ", "")) / 100
            score = (1 - FUZZ_WEIGHT) * dice + FUZZ_WEIGHT * ratio
            if score > best:
                best, text = score, p.text
        return best, text

    def _outcome(self, ranked: list[Candidate]) -> Outcome:
        """Answer only a clear winner: confident, close to one of its phrasings, and no
        other entry explaining the question about as well (then offer the choice)."""
        best = ranked[0]
        exact = best.similarity >= 0.999  # the question is one of the entry's phrasings
        clear = all(
            rival.score < best.score - self.tie
            or rival.similarity <= best.similarity - SIMILAR_GAP
            or (exact and rival.similarity < 0.999)
            for rival in ranked[1:]
        )
        if best.score >= self.answer_at and best.similarity >= self.closest_at and clear:
            return "answer"
        return "suggest" if best.score >= self.suggest_at else "none"
