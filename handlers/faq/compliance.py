"""Phrases an advisory firm may never send (证券投资顾问业务暂行规定 §19, 广告法 §25)."""

from __future__ import annotations

FORBIDDEN = (
    "保证收益", "保本", "稳赚", "零风险", "无风险", "稳赚不赔", "包赚", "亏损包赔", "收益分成",
    "代客操盘", "guaranteed return", "guaranteed profit", "risk-free", "risk free", "no risk",
)  # fmt: skip


def forbidden_in(text: str) -> list[str]:
    folded = text.casefold()
    return [p for p in FORBIDDEN if p.casefold() in folded]
