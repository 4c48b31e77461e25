"""Return visits (回访): clients are asked how they were served some days after their first
contact, once more if they do not answer, and never again."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Translator
from bot.core.types import Button, Outbound
from broadcasts.rhythm import Rhythm
from storage.tx import Tx

ASK_AGAIN_AFTER = dt.timedelta(days=2)


def survey(t: Translator, wave: int, *, again: bool) -> Outbound:
    """The seed's return-visit wording, with 1-5 buttons."""
    stars = [Button(f"{n}⭐", f"rv:{wave}:{n}") for n in range(1, 6)]
    return Outbound(t("visits.again" if again else "visits.ask"), buttons=[stars], lang=t.lang)


async def return_visits(tx: Tx, t: Translator, rhythm: Rhythm, fire: dt.datetime) -> list[Outbound]:
    """Once a day: clients `visit_days` after their first contact are asked; those who did not
    answer are asked once more two days later, and never again."""
    if not await tx.rhythm.claim_fire("visits", fire, "done"):
        return []
    outs: list[Outbound] = []
    for wave in rhythm.visit_days:
        due = await tx.return_visits.due(wave, fire, exclude=rhythm.admins)
        for _client, address, language in due:
            outs.append(_to(survey(t.with_lang(language), wave, again=False), address))
        for _client, address, language in await tx.return_visits.ask_again(
            wave, fire, ASK_AGAIN_AFTER
        ):
            outs.append(_to(survey(t.with_lang(language), wave, again=True), address))
    return outs


def _to(out: Outbound, chat: str) -> Outbound:
    out.chat = chat
    return out
