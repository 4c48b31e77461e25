"""Two client files that are one person become one: by `/client merge` or by an advisor
answering who a new WeCom contact is."""

from __future__ import annotations

from bot.core.i18n import Translator
from storage.tx import Tx


async def merge_files(tx: Tx, t: Translator, by: str, one: int, other: int) -> tuple[int, str]:
    """Merge (the older file survives), audited: the file kept, and the answer to show."""
    merged = await tx.links.merge(one, other, by=by)
    await tx.audit.log(
        by, "client.merge", client_id=merged.kept, gone=merged.gone,
        addresses=merged.addresses, conflicts=merged.conflicts,
    )  # fmt: skip
    lines = [t("clientfile.merged", kept=merged.kept, gone=merged.gone)]
    if merged.conflicts:
        kept = "; ".join(f"{k}={a}" for k, (a, _) in merged.conflicts.items())
        other_values = "; ".join(f"{k}={b}" for k, (_, b) in merged.conflicts.items())
        lines.append(t("clientfile.merge_conflicts", kept=kept, other=other_values))
    return merged.kept, "\n".join(lines)
