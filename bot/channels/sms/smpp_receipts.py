"""SMPP 3.4 delivery receipts: the text an SMSC puts in a receipt's short_message (Appendix B
of the spec, "not a requirement", yet what gateways send) and the `message_state` TLV.

    id:0a1b2c sub:001 dlvrd:001 submit date:2612010900 done date:2612010901 stat:DELIVRD
    err:000 text:【国瑞投资】您好…

Field names are matched without regard to case (some gateways write ``Stat:``, ``Text:``);
``text:`` is last and runs to the end. Dates are YYMMDDhhmm, or YYMMDDhhmmss as some
gateways write them, in the gateway's local time (Beijing for a Chinese 106 gateway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
DELIVERED = "DELIVRD"
# message_state (SMPP 3.4, 5.2.28) -> the receipt's stat word for it
STATES = {
    1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED",
    5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD",
}  # fmt: skip
_TEXT = re.compile(r"(?i)(?:^|\s)text:")
_FIELD = re.compile(r"(?i)(?:^|\s)(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err):(\S*)")


@dataclass(frozen=True, slots=True)
class ReceiptText:
    message_id: str
    stat: str  # DELIVRD, UNDELIV, EXPIRED, REJECTD … (upper-case), "" when absent
    err: str  # the network's error code, "" when absent
    submitted: datetime | None
    done: datetime | None
    text: str  # the first characters of the text, as the gateway quotes them

    @property
    def delivered(self) -> bool:
        return self.stat == DELIVERED

    @property
    def code(self) -> str:
        """stat, with err when it says something (not absent, not all zeros)."""
        if self.err.strip("0"):
            return f"{self.stat}:{self.err}"
        return self.stat


def parse_time(text: str, zone: tzinfo = BEIJING) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss in `zone`, aware; None when it is neither."""
    if not text.isdigit() or len(text) not in (10, 12):
        return None
    try:
        return datetime.strptime(text, "%y%m%d%H%M%S" if len(text) == 12 else "%y%m%d%H%M").replace(
            tzinfo=zone
        )
    except ValueError:
        return None


def parse_receipt(text: str, zone: tzinfo = BEIJING) -> ReceiptText | None:
    """The receipt text's fields; None when it has no ``id:`` (not a receipt text)."""
    head, quoted = text, ""
    if found := _TEXT.search(text):
        head, quoted = text[: found.start()], text[found.end() :]
    fields = {"text": quoted}
    for match in _FIELD.finditer(head):
        fields.setdefault(match.group(1).lower().replace("_", " "), match.group(2))
    if not fields.get("id"):
        return None
    return ReceiptText(
        message_id=fields["id"],
        stat=fields.get("stat", "").upper(),
        err=fields.get("err", ""),
        submitted=parse_time(fields.get("submit date", ""), zone),
        done=parse_time(fields.get("done date", ""), zone),
        text=fields.get("text", ""),
    )


# SMPP 3.4 has submit_sm_resp ids in hex on many SMSCs and receipt texts in decimal on some
# (the spec leaves both to the SMSC): an id is also known by its value in the other base.
_HEX = re.compile(r"[0-9A-Fa-f]{1,32}")


def id_keys(message_id: str) -> list[str]:
    """What a submitted id is remembered under: itself, its value read as hex, as decimal."""
    keys = [message_id]
    if _HEX.fullmatch(message_id):
        keys.append(f"x{int(message_id, 16)}")
    if message_id.isdigit():
        keys.append(f"d{int(message_id)}")
    return keys


def id_lookups(receipted: str) -> list[str]:
    """Where a receipt's id may find its submitted id: as is, the same value written otherwise
    (zeros in front, the case of hex digits), then in the other base."""
    keys = [receipted]
    is_hex, is_decimal = bool(_HEX.fullmatch(receipted)), receipted.isdigit()
    if is_hex:
        keys.append(f"x{int(receipted, 16)}")
    if is_decimal:
        keys += [f"d{int(receipted)}", f"x{int(receipted)}"]
    if is_hex:
        keys.append(f"d{int(receipted, 16)}")
    return list(dict.fromkeys(keys))
