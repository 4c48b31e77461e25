"""The FAQ's "ask a person" button: the FAQ offers it with a question it could not answer, the
tickets feature answers the press (a consultation). Neither imports the other; both use this.
The data stays `faq:h:<unanswered id>` so that buttons already sent keep working."""

from __future__ import annotations

TO_PERSON = "faq:h"


def to_person(unanswered_id: int) -> str:
    return f"{TO_PERSON}:{unanswered_id}"
