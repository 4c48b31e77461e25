"""Application settings, read from environment variables and an optional ``.env`` file.

Use :func:`load_settings`; it returns a frozen :class:`Settings` or raises :class:`ConfigError`
with a one-line message naming the offending environment variable.

One module per section (core, telegram, http, desk, schedule, wechat, wecom, onebot, faq,
staff console, sms, mail, ops, retention); ``base`` holds what they share and ``loading`` the
container, the section list and the error wording.
"""

from bot.config.base import CHANNELS, ConfigError
from bot.config.base import _check_http_url as _check_http_url
from bot.config.base import _cross_field_error as _cross_field_error
from bot.config.core import CoreSettings
from bot.config.desk import DeskSettings
from bot.config.faq import FaqSettings
from bot.config.http import HttpSettings
from bot.config.loading import _MESSAGES as _MESSAGES
from bot.config.loading import Settings, load_settings
from bot.config.loading import _describe as _describe
from bot.config.mail import MailSettings
from bot.config.onebot import OnebotSettings
from bot.config.ops import OpsSettings
from bot.config.retention import RetentionSettings
from bot.config.schedule import ScheduleSettings
from bot.config.sms import SmsSettings
from bot.config.staff_console import StaffConsoleSettings
from bot.config.telegram import TelegramSettings
from bot.config.wechat import WechatSettings
from bot.config.wecom import WecomSettings
from bot.core.types import normalize_address as normalise_address

__all__ = [
    "CHANNELS",
    "ConfigError",
    "CoreSettings",
    "DeskSettings",
    "FaqSettings",
    "HttpSettings",
    "MailSettings",
    "OnebotSettings",
    "OpsSettings",
    "RetentionSettings",
    "ScheduleSettings",
    "Settings",
    "SmsSettings",
    "StaffConsoleSettings",
    "TelegramSettings",
    "WechatSettings",
    "WecomSettings",
    "load_settings",
    "normalise_address",
]
