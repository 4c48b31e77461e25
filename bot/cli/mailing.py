"""Sending one e-mail from a command (`report monthly --email`, `clients email`): at once,
through the relay in the settings, with one line saying what happened."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.cli.base import EXIT_FAILED, EXIT_OK, refuse
from bot.config import Settings
from bot.core.mailboxes import email_address
from bot.mail import Attachment, Mailer, MailError, compose


def recipients(given: Sequence[str]) -> list[str] | str:
    """The addresses checked and deduplicated, or why one is not an address."""
    found: list[str] = []
    for item in given:
        address = email_address(item)
        if address is None:
            return f"{item[:60]!r} is not an e-mail address like boss@example.com"
        if address not in found:
            found.append(address)
    return found


async def send(
    settings: Settings,
    what: str,
    to: Sequence[str],
    subject: str,
    body: str,
    files: Sequence[Attachment],
) -> int:
    mail = settings.mail
    if not mail.enabled or mail.sender is None:
        return refuse(what, "e-mail is not configured (set SMTP_HOST and SMTP_FROM)")
    if not to:
        return refuse(what, "no recipients (set REPORT_EMAILS or give --to ADDRESS)")
    message = compose(mail.sender, to, subject, body, files)
    mailer = Mailer(mail)
    try:
        refused = await mailer.send(message)
    except MailError as exc:
        print(f"{what}: not sent via {mailer.where}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED
    got = [a for a in to if a not in refused]
    print(f"sent {subject!r} to {', '.join(got)}", file=sys.stderr)
    if refused:
        print(f"{what}: the server refused {', '.join(refused)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
