"""Greetings and thanks get a friendly word, not a trip through the FAQ (where they would be
"unanswered questions")."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Outbound
from handlers.shared.menus import main_menu

router = Router("smalltalk")

GREETINGS = (
    "你好", "您好", "你好啊", "在吗", "在不在", "有人吗", "早", "早上好", "上午好", "中午好",
    "下午好", "晚上好", "hi", "hello", "hey", "good morning", "good afternoon", "good evening",
)  # fmt: skip
THANKS = (
    "谢谢", "谢谢你", "谢谢您", "多谢", "感谢", "谢了", "好的", "好", "ok", "okay", "收到",
    "知道了", "明白了", "明白", "了解", "thanks", "thank you", "thx", "got it",
)  # fmt: skip
GOODBYES = ("再见", "拜拜", "bye", "goodbye", "see you")


@router.keyword(*GREETINGS, exact=True)
async def hello(t: Translator) -> Outbound:
    return Outbound(t("smalltalk.hello"), buttons=main_menu(t))


@router.keyword(*THANKS, exact=True)
async def thanks(t: Translator) -> Outbound:
    return Outbound(t("smalltalk.thanks"))


@router.keyword(*GOODBYES, exact=True)
async def goodbye(t: Translator) -> Outbound:
    return Outbound(t("smalltalk.bye"))
