"""`python -m bot clients email ID --subject S --file PATH`: a document to a client by e-mail,
to the address on their file (`/client ID email ADDRESS`), at once, in the audit log."""

from __future__ import annotations

import argparse
import mimetypes
from pathlib import Path
from typing import Any

from bot.cli import mailing
from bot.cli.base import EXIT_OK, refuse, translator
from bot.config import Settings
from bot.core.text import to_plain
from bot.mail import Attachment
from handlers.shared.client_lookup import find_client
from storage.database import Database

ACTOR = "cli"
MAX_BYTES = 20 * 1024 * 1024  # most mailboxes refuse larger messages


def add_parser(actions: Any) -> None:
    email = actions.add_parser("email", help="e-mail a document to a client's address on file")
    email.add_argument("client", help="a client id or one of their addresses")
    email.add_argument("--subject", required=True)
    email.add_argument("--file", required=True, type=Path, help="the document to attach")


async def run(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    what = "clients email"
    if not settings.mail.enabled:
        return refuse(what, "e-mail is not configured (set SMTP_HOST and SMTP_FROM)")
    document = _document(args.file)
    if isinstance(document, str):
        return refuse(what, document)
    subject = " ".join(args.subject.split())
    if not subject:
        return refuse(what, "--subject is empty")
    async with db.read() as tx:
        client = await find_client(tx, args.client)
        file = await tx.files.get(client) if client and client.erased_at is None else None
    if client is None or file is None:
        return refuse(what, f"no client {args.client[:60]!r}")
    if not file.email:
        return refuse(what, f"client {client.id} has no e-mail on file (/client ID email ADDRESS)")
    body = to_plain(translator(settings)("mail.client_body", file=document.name))
    sent = await mailing.send(settings, what, [file.email], subject, body, [document])
    async with db.write() as tx:  # tried or not, it is on the record
        await tx.audit.log(
            ACTOR, "client.email_sent" if sent == EXIT_OK else "client.email_failed",
            client_id=client.id, subject=subject, file=document.name,
        )  # fmt: skip
    return sent


def _document(path: Path) -> Attachment | str:
    """The file as an attachment, or why it cannot be one (a small local file: read whole)."""
    if not path.is_file():
        return f"{path}: no such file"
    if path.stat().st_size > MAX_BYTES:
        return f"{path}: larger than {MAX_BYTES // 1024 // 1024} MB"
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(path.name, path.read_bytes(), kind)
