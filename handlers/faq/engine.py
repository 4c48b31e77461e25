"""FAQ matching in two stages.

1. Rank entries with BM25 over each entry's whole vocabulary (character unigrams, bigrams
   and pinyin bigrams for Chinese, stemmed words for English; a term's frequency is the
   number of the entry's phrasings that use it), so a question built from words of
   several phrasings still finds its entry.
2. Re-rank the few best with their closest single phrasing (IDF-weighted overlap blended
   with a fuzzy character ratio, which forgives typos), and judge confidence by how much
   of the question the entry's vocabulary explains: answer, suggest, or hand over.

With sentence embeddings (`handlers.faq.semantic`), the entries closest in meaning join the
shortlist, and an entry's semantic score (its best phrasing's cosine, rescaled) is blended
into both the order and the confidence. Entries whose phrasings are not embedded yet are
judged on the lexical scores alone.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from rapidfuzz import fuzz, process

from handlers.faq.normalize import Synonyms, normalize, tokens
from handlers.faq.semantic import Vector, key
from storage.records import FaqEntry

Outcome = Literal["answer", "suggest", "none"]


class Decider(Protocol):
    """A learned judge (`handlers.faq.judge.Judge`): how sure it is that the best candidate
    is the answer, and what to do, given what the thresholds (`rule`) would do."""

    @property
    def outside(self) -> np.ndarray | None: ...

    def belief(self, signals: tuple[float, ...]) -> float: ...

    def outcome(self, belief: float, rule: Outcome) -> Outcome: ...


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
# The semantic signal (benchmarks/faq.py --calibrate): cosines of this model crowd into
# 0.80-0.97, so they are rescaled from [COS_FLOOR, COS_CEIL] to [0, 1] first.
COS_FLOOR, COS_CEIL = 0.88, 0.97
SEMANTIC_ORDER = 0.3  # share of the semantic score in the order
SEMANTIC_CONFIDENCE = 0.3  # and in the confidence
SEMANTIC_ANSWER_AT = 0.52  # the blended confidence that answers
SEMANTIC_SUGGEST_AT = 0.3  # and that offers suggestions
SEMANTIC_TIE = 0.05  # with it, a rival this close in confidence makes the question ambiguous


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
    # What the judge reads (`handlers.faq.judge.SIGNALS`); empty when nothing matched.
    signals: tuple[float, ...] = ()
    # The judge's belief that the best candidate is the answer (None: no judge decided).
    belief: float | None = None

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True, slots=True)
class _Phrasing:
    text: str
    terms: frozenset[str]
    weight: float  # summed IDF of its terms


@dataclass(frozen=True, slots=True)
class Tuning:
    answer_at: float = ANSWER_AT
    suggest_at: float = SUGGEST_AT
    closest_at: float = CLOSEST_AT
    tie: float = TIE
    semantic_answer_at: float = SEMANTIC_ANSWER_AT
    semantic_suggest_at: float = SEMANTIC_SUGGEST_AT
    semantic_order: float = SEMANTIC_ORDER
    semantic_confidence: float = SEMANTIC_CONFIDENCE
    semantic_tie: float = SEMANTIC_TIE
    cos_floor: float = COS_FLOOR
    cos_ceil: float = COS_CEIL


class FaqIndex:
    """An immutable index over the enabled entries; rebuild it when the knowledge base changes.

    `vectors` maps a phrasing's `semantic.key` to its embedding; `reuse`
    is the index this one replaces, whose per-phrasing analysis is kept when the synonyms
    did not change (an edit re-analyses only what changed)."""

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        synonyms: Mapping[str, str] | None = None,
        *,
        vectors: Mapping[str, Vector] | None = None,
        reuse: FaqIndex | None = None,
        tuning: Tuning | None = None,
        judge: Decider | None = None,
    ) -> None:
        self.synonyms = Synonyms(synonyms or {})
        self.tuning = tuning or Tuning()
        # Embeddings of questions that are not the FAQ's (the judge's): how much closer the
        # question is to the best entry than to any of them is one of the judge's signals.
        self.outside: np.ndarray | None = None
        self.judge: Decider | None = None
        self.use(judge)
        self.entries = [e for e in entries if e.enabled]
        same = reuse is not None and reuse.synonyms.table == self.synonyms.table
        self._analysed: dict[str, tuple[str, frozenset[str]] | None] = (
            reuse._analysed if same and reuse is not None else {}
        )
        texts = [self._phrasings(e) for e in self.entries]
        if len(self._analysed) > 4 * sum(len(t) for t in texts) + 1000:
            self._analysed = {}  # long since edited away: start afresh next time
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
        self._semantic(vectors or {})

    def _phrasings(self, entry: FaqEntry) -> list[tuple[str, frozenset[str]]]:
        seen: dict[str, frozenset[str]] = {}
        for phrasing in entry.phrasings:
            if phrasing not in self._analysed:
                text = normalize(phrasing, self.synonyms)
                self._analysed[phrasing] = (text, frozenset(tokens(text))) if text else None
            found = self._analysed[phrasing]
            if found is not None and found[0] not in seen:
                seen[found[0]] = found[1]
        return list(seen.items())

    def _semantic(self, vectors: Mapping[str, Vector]) -> None:
        """One matrix of every embedded phrasing, its rows grouped by entry."""
        self.digests = [list(dict.fromkeys(key(p) for p in e.phrasings)) for e in self.entries]
        rows: list[Vector] = []
        starts: list[int] = []
        self._embedded: list[int] = []  # entries with at least one vector, in order
        for i, keys in enumerate(self.digests):
            found = [vectors[k] for k in keys if k in vectors]
            if found:
                self._embedded.append(i)
                starts.append(len(rows))
                rows.extend(found)
        self.matrix = np.vstack(rows).astype(np.float32) if rows else None
        self._starts = np.array(starts, dtype=np.intp)

    def use(self, judge: Decider | None) -> None:
        """Decide with `judge` from now on (None: the thresholds alone)."""
        self.judge = judge
        self.outside = judge.outside if judge is not None else None

    @property
    def semantic(self) -> bool:
        """Whether any entry can be judged by meaning."""
        return self.matrix is not None

    def missing(self) -> set[str]:
        """Digests of phrasings with no vector in this index."""
        have = set()
        if self.matrix is not None:
            have = {k for i in self._embedded for k in self.digests[i]}
        return {k for keys in self.digests for k in keys} - have

    def __len__(self) -> int:
        return len(self.entries)

    def normalize(self, text: str) -> str:
        return normalize(text, self.synonyms)

    def _closeness(self, vector: Vector | None) -> tuple[dict[int, float], dict[int, float]]:
        """entry -> its best phrasing's cosine with the question, rescaled to [0, 1]; and
        the raw cosines of the closest few (the judge reads them)."""
        if vector is None or self.matrix is None:
            return {}, {}
        cosines = self.matrix @ vector
        best = np.maximum.reduceat(cosines, self._starts)
        t = self.tuning
        scaled = np.clip((best - t.cos_floor) / (t.cos_ceil - t.cos_floor), 0.0, 1.0)
        near = (
            np.argpartition(best, -SHORTLIST)[-SHORTLIST:]
            if len(best) > SHORTLIST
            else range(len(best))
        )
        raw = {self._embedded[j]: float(best[j]) for j in near}
        return dict(zip(self._embedded, scaled.tolist(), strict=True)), raw

    def match(self, text: str, *, limit: int = 3, vector: Vector | None = None) -> Match:
        """`vector`: the question's embedding (`semantic.Embedder.query`), if there is one."""
        norm = self.normalize(text[:MAX_QUERY])
        query = frozenset(self._spell(t) for t in tokens(norm))
        bm25 = self._bm25(query)
        if not bm25:
            return Match("none", [], norm)
        top = max(bm25.values())
        q_weight = sum(self.idf.get(t, self.unknown_idf) for t in query)
        compact = norm.replace(" ", "")
        meaning, cosines = self._closeness(vector)
        shortlist = sorted(bm25, key=bm25.__getitem__, reverse=True)[:SHORTLIST]
        if meaning:
            shortlist += sorted(meaning, key=meaning.__getitem__, reverse=True)[:SHORTLIST]
        tune = self.tuning
        ranked = []
        for i in dict.fromkeys(shortlist):
            similarity, phrasing = self._closest(i, query, q_weight, compact)
            coverage = sum(self.idf[t] for t in query & self.vocab[i]) / q_weight
            order = RANK_WEIGHT * bm25.get(i, 0.0) / top + (1 - RANK_WEIGHT) * similarity
            confidence = coverage
            if i in meaning:
                order += tune.semantic_order * (meaning[i] - order)
                confidence += tune.semantic_confidence * (meaning[i] - confidence)
            candidate = Candidate(
                self.entries[i], round(confidence, 4), phrasing, round(similarity, 4)
            )
            ranked.append((order, i, candidate))
        ranked.sort(key=lambda r: r[0], reverse=True)
        candidates = [c for _, _, c in ranked]
        away = self._outside(vector)
        signals = self._signals(ranked, query, q_weight, compact, bm25, top, cosines, away)
        if meaning:
            outcome = self._outcome(
                candidates, tune.semantic_answer_at, tune.semantic_suggest_at, tune.semantic_tie
            )
        else:
            outcome = self._outcome(candidates, tune.answer_at, tune.suggest_at, tune.tie)
        if self.judge is None:
            return Match(outcome, candidates[:limit], norm, signals)
        belief = self.judge.belief(signals)
        outcome = self.judge.outcome(belief, outcome)
        return Match(outcome, candidates[:limit], norm, signals, belief)

    def _signals(
        self,
        ranked: list[tuple[float, int, Candidate]],
        query: frozenset[str],
        q_weight: float,
        compact: str,
        bm25: dict[int, float],
        top: float,
        cosines: dict[int, float],
        away: float | None,
    ) -> tuple[float, ...]:
        """What the judge reads about the best candidate against its rivals (the order is
        `handlers.faq.judge.SIGNALS`)."""
        order, i, best = ranked[0]
        rival_order, _, rival = ranked[1] if len(ranked) > 1 else (0.0, -1, None)
        phrase = next((p for p in self.phrasings[i] if p.text == best.phrasing), None)
        shared = sum(self.idf[t] for t in query & phrase.terms) if phrase else 0.0
        known = sum(self.idf[t] for t in query if t in self.idf)
        by_bm25 = heapq.nlargest(2, bm25.values())
        cosine = cosines.get(i, 0.0)
        others = [c for k, c in cosines.items() if k != i]
        near = min(len(compact), len(best.phrasing.replace(" ", ""))) or 1
        far = max(len(compact), len(best.phrasing.replace(" ", ""))) or 1
        agree = not cosines or max(cosines, key=cosines.__getitem__) == i
        return (
            best.score,
            best.similarity,
            order - rival_order,
            best.score - (rival.score if rival else 0.0),
            best.similarity - (rival.similarity if rival else 0.0),
            bm25.get(i, 0.0) / top,
            (by_bm25[1] / top) if len(by_bm25) > 1 else 0.0,
            cosine,
            cosine - max(others, default=cosine - 0.1) if cosines else 0.0,
            float(bool(cosines)),
            float(agree),
            1.0 - known / q_weight if q_weight else 1.0,
            shared / q_weight if q_weight else 0.0,
            math.log1p(len(query)),
            near / far,
            float(best.similarity >= 0.999),
            away if away is not None else 0.0,
            cosine - away if away is not None and cosines else 0.0,
        )

    def _outside(self, vector: Vector | None) -> float | None:
        """The question's cosine with the closest question known not to be the FAQ's."""
        if vector is None or self.outside is None or not len(self.outside):
            return None
        return float(np.max(self.outside @ vector))

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

    def _outcome(
        self, ranked: list[Candidate], answer_at: float, suggest_at: float, tie: float
    ) -> Outcome:
        """Answer only a clear winner: confident, close to one of its phrasings, and no
        other entry explaining the question about as well (then offer the choice)."""
        best = ranked[0]
        exact = best.similarity >= 0.999  # the question is one of the entry's phrasings
        clear = all(
            rival.score < best.score - tie
            or rival.similarity <= best.similarity - SIMILAR_GAP
            or (exact and rival.similarity < 0.999)
            for rival in ranked[1:]
        )
        t = self.tuning
        if best.score >= answer_at and best.similarity >= t.closest_at and clear:
            return "answer"
        return "suggest" if best.score >= suggest_at else "none"
