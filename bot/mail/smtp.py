"""Sending through the relay with aiosmtplib, in the TLS mode the settings name.

A transient failure (no connection, a timeout, a 4xx answer) is tried again a few times at
once; a refusal (5xx: an unknown mailbox, a bad login) is not, since it will not change by
itself. The password goes to the server and nowhere else: no log line, no error shows it."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import aiosmtplib

from bot.config.mail import MailSettings

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class MailError(Exception):
    """The relay did not take the message; `transient`: trying later may work."""

    def __init__(self, detail: str, *, transient: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transient = transient


def _explain(exc: Exception) -> MailError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        who = ", ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
        return MailError(f"every recipient refused: {who}", transient=all(c < 500 for c in codes))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return MailError(f"login refused ({exc.code} {exc.message})", transient=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return MailError(f"server answered {exc.code} {exc.message}", transient=exc.code < 500)
    if isinstance(exc, ssl.SSLError):  # a certificate that does not check out stays so
        return MailError(f"TLS failed: {exc}", transient=False)
    if isinstance(exc, ConnectionError | TimeoutError | OSError):  # the network, for now
        return MailError(f"{type(exc).__name__}: {exc}", transient=True)
    # What the server cannot do (no STARTTLS, no AUTH): the settings must change first.
    return MailError(str(exc), transient=False)


class Mailer:
    def __init__(
        self,
        settings: MailSettings,
        *,
        tls_context: ssl.SSLContext | None = None,  # tests trust their own certificate
        attempts: int = 3,
        pause: float = 2.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if settings.host is None:
            raise ValueError("SMTP_HOST is not set")
        self.settings = settings
        self.host = settings.host
        self.port = settings.port_or_default
        self.tls_context = tls_context
        self.attempts = attempts
        self.pause = pause
        self.sleep = sleep

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} ({self.settings.tls})"

    async def send(self, message: EmailMessage) -> list[str]:
        """Hand `message` to the relay; the recipients it refused (the others got it).
        Raises MailError when nobody got it."""
        for attempt in range(1, self.attempts + 1):
            try:
                refused, _ = await self._send(message)
            except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
                error = _explain(exc)
                log.warning(
                    "mail %r via %s failed (try %d of %d): %s",
                    str(message["Subject"]),
                    self.where,
                    attempt,
                    self.attempts,
                    error.detail,
                )
                if not error.transient or attempt == self.attempts:
                    raise error from None
                await self.sleep(self.pause * 2 ** (attempt - 1))
                continue
            subject = str(message["Subject"])
            for who, answer in refused.items():
                log.warning("mail %r refused for %s: %s", subject, who, answer)
            log.info("mail %r sent via %s to %s", subject, self.where, message["To"])
            return sorted(refused)
        raise AssertionError("unreachable")

    async def _send(self, message: EmailMessage) -> tuple[dict[str, object], str]:
        s = self.settings
        password = s.password.get_secret_value() if s.password is not None else None
        return await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=s.user,
            password=password,
            use_tls=s.tls == "tls",
            start_tls=s.tls == "starttls",  # required when asked for: never silently plain
            timeout=s.timeout_seconds,
            tls_context=self.tls_context,
        )
