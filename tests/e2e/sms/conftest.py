"""End-to-end fixtures for SMS: the bot with its SMS channel on Alibaba Cloud SMS pointed at
the fake dysmsapi (real HTTP, signatures checked), receipts and replies pushed by the fake to
the bot's webhook, and a recording console for staff and for clients reached by chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from bot.core.commands import text_event
from tests.conftest import SettingsFactory
from tests.e2e.platform_process import PlatformProcess
from tests.fakes.aliyun_sms import PROMO, FakeAliyunSms, Sms, Template
from tests.fakes.clock import FakeTime
from tests.harness import RecordingSender
from tests.support import eventually, free_port

KEY_ID, SECRET = "LTAI5tFakeKeyId0000", "fakeSecret0123456789abcdefghij"
SIGN = "国瑞投资"
TOKEN = "sms-push-token-0123456789"
NOTICE = Template("SMS_400100001", "${content}")
ALERT = Template("SMS_400100002", "${content}")
MARKETING = Template("SMS_400100003", "${content}", PROMO)
STAFF = "console:admin"


@dataclass
class SmsBot(PlatformProcess):
    aliyun: FakeAliyunSms = field(kw_only=True)
    console: RecordingSender = field(kw_only=True)

    @property
    def webhook(self) -> str:
        s = self.settings
        return f"http://{s.http.host}:{s.http.port}{s.sms.callback_path}?token={TOKEN}"

    @property
    def channel(self) -> Any:
        return self.channels[0]

    async def client(
        self,
        address: str,
        *,
        phone: str | None = None,
        consent: bool | None = None,
        topics: tuple[str, ...] = (),
    ) -> int:
        """A client on file at `address`, with a phone, consent and subscriptions."""
        async with self.app.db.write() as tx:
            client, _ = await tx.clients.get_or_create(
                address, language="zh", display_name=None, username=None
            )
            if phone:
                await tx.files.set(client.id, phone=phone)
            if consent is not None:
                await tx.sms.set_consent(client.id, consent, "staff")
            for topic in topics:
                await tx.subscriptions.subscribe(client.id, topic, channel="x", actor="t")
        return client.id

    async def staff(self, text: str, *, settle: bool = True) -> list[str]:
        """Staff type `text` on the console; what the console got back (once every row is
        final, with `settle`)."""
        before = len(self.console.sent)
        await self.app.inbox.receive(text_event("console", STAFF, STAFF, text))
        if settle:
            await self.settled()
        return [s.text for s in self.console.sent[before:] if s.chat == STAFF]

    def texts_to(self, phone: str) -> list[Sms]:
        return self.aliyun.to(phone)

    async def rows(self, chat: str) -> list[Any]:
        async with self.app.db.read() as tx:
            return list(await tx.messages.for_chat(chat))

    async def sms_sent(self, n: int) -> None:
        await eventually(lambda: len(self.aliyun.sent) >= n, what=f"{n} SMS at the fake")


@pytest.fixture
async def make_sms(
    make_settings: SettingsFactory,
) -> AsyncIterator[Callable[..., Awaitable[SmsBot]]]:
    made: list[tuple[SmsBot, FakeAliyunSms]] = []

    async def make(*, push: bool = True, start: datetime | None = None, **extra: str) -> SmsBot:
        clock = FakeTime(start, ticking=True) if start else FakeTime(ticking=True)
        aliyun = FakeAliyunSms(
            {KEY_ID: SECRET},
            sign_names=[SIGN],
            templates=[NOTICE, ALERT, MARKETING],
            clock=clock.epoch,  # the fake's world runs on the bot's clock
        )
        await aliyun.__aenter__()
        env = {
            "SMS_PROVIDER": "aliyun",
            "SMS_ACCESS_KEY_ID": KEY_ID,
            "SMS_ACCESS_KEY_SECRET": SECRET,
            "SMS_SIGN_NAME": SIGN,
            "SMS_TEMPLATE_NOTICE": NOTICE.code,
            "SMS_TEMPLATE_ALERT": ALERT.code,
            "SMS_TEMPLATE_MARKETING": MARKETING.code,
            "SMS_API_BASE": aliyun.base_url,
            "SMS_TOPICS": "risk,news",
            "STAFF_CHAT": STAFF,
            "BOT_ADMINS": STAFF,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(free_port()),
            **({"SMS_CALLBACK_TOKEN": TOKEN} if push else {}),
            **extra,
        }
        console = RecordingSender()
        bot = SmsBot(
            make_settings(**env),
            aliyun=aliyun,
            console=console,
            senders=[console],
            clock=clock,
        )
        await bot.start()
        made.append((bot, aliyun))
        return bot

    yield make
    for bot, aliyun in made:
        await bot.stop()
        await aliyun.__aexit__(None, None, None)
