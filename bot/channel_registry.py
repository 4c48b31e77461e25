"""The platform channels, in one place: which are configured, and how each is built."""

from __future__ import annotations

from bot.app import App
from bot.channels.base import Channel
from bot.config import Settings


def configured(settings: Settings, app: App) -> list[Channel]:
    """Every platform channel the settings enable, built on `app` (not started)."""
    channels: list[Channel] = []
    if settings.telegram.enabled:
        from bot.channels.telegram.runner import TelegramRunner

        channels.append(TelegramRunner(settings, app.inbox, app.delivery, app.catalog))
    if settings.wechat.enabled:
        from bot.channels.wechat.channel import WechatChannel

        channels.append(WechatChannel(settings, app.inbox, app.delivery, app.db))
    if settings.wecom.enabled:
        from bot.channels.wecom.channel import WecomChannel

        channels.append(WecomChannel(settings, app.inbox, app.delivery, app.db, app.translator))
    if settings.onebot.enabled:
        from bot.channels.qq.channel import QQChannel

        channels.append(QQChannel(settings, app.inbox, app.delivery, app.db, app.translator))
    if settings.sms.enabled:
        from bot.channels.sms.channel import SmsChannel

        channels.append(SmsChannel(settings, app.inbox, app.delivery, app.db, app.translator))
    if settings.staff_console.on:
        from bot.web.console import StaffConsole

        channels.append(StaffConsole(settings, app))
    return channels


def attach(app: App, channels: list[Channel]) -> None:
    """Each channel's sender behind the delivery engine, its routes on the HTTP server."""
    for channel in channels:
        # Before the senders: a route of the channel's (QQ groups) is tracked as the channel.
        app.delivery.health.track(channel.name, tuple(s.channel for s in channel.senders))
        for sender in channel.senders:
            app.add_sender(sender, concurrency=channel.concurrency, lead=channel.lead)
        app.http.mount(channel.routes())
        for prefix, sub in getattr(channel, "apps", list)():
            app.http.mount_app(prefix, sub)
