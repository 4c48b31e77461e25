"""The service flow's steps as people name them: by key, by number (1-9) or by name in
either language; shared by the /onboard command and the client list's `stage` column."""

from __future__ import annotations

from bot.core.i18n import Translator
from storage.records import ONBOARDING_STEPS

LANGUAGES = ("zh", "en")


def step_of(t: Translator, word: str) -> str | None:
    word = word.strip().lower()
    if word.isdigit() and 1 <= int(word) <= len(ONBOARDING_STEPS):
        return ONBOARDING_STEPS[int(word) - 1]
    if word in ONBOARDING_STEPS:
        return word
    for step in ONBOARDING_STEPS:
        if word in {t.with_lang(lang)(f"onboard.step_{step}").lower() for lang in LANGUAGES}:
            return step
    return None
