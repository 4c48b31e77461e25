"""`python -m bot <command>`: one module per command group (serve is `run`, chat, db, faq,
messages, clients, broadcast, calendar, training, reports, wechat), each with the same shape
(`NAME`, `QUIET`, `add_parser`, `run`); `program` puts them together and `base` holds what
they share: the database they open, exit codes, refusals."""

from bot.cli.program import main

__all__ = ["main"]
