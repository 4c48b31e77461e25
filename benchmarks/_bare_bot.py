"""The baseline: a plain aiogram bot, one handler answering every message, nothing stored.

TOKEN=… API=http://… python benchmarks/_bare_bot.py
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

TOPICS = ["重要消息", "行情评估", "中线机会提示", "盘中风险警示", "早盘操作建议", "晚盘操作建议"]


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["API"]))
    bot = Bot(os.environ["TOKEN"], session=session)
    dp = Dispatcher()

    @dp.message()
    async def answer(message: Message) -> None:
        lines = "\n".join(f"◻️ {name}" for name in TOPICS)
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=n, callback_data=f"sub:t:{n}")] for n in TOPICS
            ]
        )
        await message.answer(
            f"<b>可订阅的栏目</b>\n{lines}", parse_mode="HTML", reply_markup=keyboard
        )

    await dp.start_polling(bot, handle_signals=True)


if __name__ == "__main__":
    asyncio.run(main())
