"""E-mail out: reports and documents through the firm's SMTP relay.

An outer layer like the channels: the application and the CLI use it; the core, the
handlers and the broadcasts never do (a job queues a row in the mail outbox instead)."""

from bot.mail.message import Attachment, compose
from bot.mail.smtp import Mailer, MailError

__all__ = ["Attachment", "MailError", "Mailer", "compose"]
