"""Questions the FAQ could not answer, grouped: near-identical askings (typos, punctuation,
word order) count as one gap. Shared by `/faq gaps` and the staff console's FAQ page."""

from __future__ import annotations

from rapidfuzz import fuzz

from storage.records import Unanswered

SAME = 80  # token-set similarity (0-100) from which two askings are the same question


def group_gaps(rows: list[Unanswered]) -> list[list[Unanswered]]:
    """Greedy clusters in asking order, the most asked first."""
    groups: list[list[Unanswered]] = []
    for row in rows:
        for group in groups:
            if fuzz.token_set_ratio(row.normalized, group[0].normalized) >= SAME:
                group.append(row)
                break
        else:
            groups.append([row])
    return sorted(groups, key=len, reverse=True)
