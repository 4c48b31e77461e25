"""The reach plan as staff read it: each route with its clients, then who cannot be reached
and why, in the reader's language."""

from __future__ import annotations

from bot.core.i18n import Catalog, Translator
from broadcasts.reach import routes_text

REACH = {
    "telegram.direct": 1000, "wechat.window": 300, "wechat.mass": 700, "qq.direct": 150,
    "wechat.outside": 30, "wechat.full": 20,
}  # fmt: skip


def test_routes_and_the_unreached_with_their_reasons() -> None:
    t = Translator(Catalog(), "zh", "国瑞投资")
    text = routes_text(t, REACH)
    assert text.startswith("送达途径:Telegram 1,000 · 微信群发 700")
    assert "微信客服消息 300" in text and "QQ 150" in text
    assert "无法送达 50(" in text and "微信 48 小时窗口外 30" in text and "本月群发已满 20" in text


def test_in_english_and_for_nobody() -> None:
    t = Translator(Catalog(), "en", "Firm")
    assert "WeChat mass send 700" in routes_text(t, REACH)
    assert routes_text(t, {}) == "Routes: none"
