"""`python -m bot faq …`: import, export and try out the knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.cli.base import EXIT_FAILED, EXIT_OK, database
from bot.config import Settings
from handlers.faq.engine import Match
from handlers.faq.index_cache import FaqService
from handlers.faq.kb_file import KbFileError, read_file, to_csv, to_yaml
from storage.database import Database

NAME = "faq"
QUIET = True
EXIT_BAD_FILE = EXIT_FAILED
EMBED_SECONDS = 0.03  # per phrasing, measured on two cores (benchmarks/faq.py)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    faq = sub.add_parser(
        NAME,
        help="import, export and test the FAQ knowledge base",
        description="Knowledge base maintenance. File formats are described in the README.",
    )
    actions = faq.add_subparsers(dest="faq_command", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import",
        help="add or replace entries from a YAML or CSV file (all or nothing)",
        description="Check the whole file first; if any line is wrong, print every problem "
        "with its line and field and change nothing. Entries with a known id are replaced.",
    )
    imp.add_argument("file", type=Path, help="a .yaml/.yml or .csv file, UTF-8")
    imp.add_argument(
        "--replace",
        action="store_true",
        help="the file becomes the whole knowledge base: entries not in it are disabled "
        "(kept for history)",
    )
    exp = actions.add_parser("export", help="write every entry as YAML or CSV")
    exp.add_argument("--format", choices=["yaml", "csv"], help="default: from --output, else yaml")
    exp.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    match = actions.add_parser("match", help="show what the bot would answer to TEXT")
    match.add_argument("text")
    match.add_argument("--json", action="store_true", help="machine-readable output")


@asynccontextmanager
async def _knowledge_base(settings: Settings) -> AsyncIterator[tuple[Database, FaqService]]:
    """The database with the shipped entries in place, and the service over it."""
    async with database(settings) as db:
        service = FaqService(
            semantic_on=settings.faq.faq_semantic, judge_on=settings.faq.faq_judge, db=db
        )
        async with db.write() as tx:
            await service.ensure_defaults(tx, load=settings.faq.faq_defaults)
        try:
            yield db, service
        finally:
            await service.close()


async def _judge(db: Database, service: FaqService) -> None:
    """Train the answer judge now where the base has none yet (the bot would, in the
    background, at its first question)."""
    async with db.read() as tx:
        await service.index(tx)
    if service.training:
        print("training the FAQ's answer judge (seconds) …", file=sys.stderr)
        await service.trained()


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.faq_command == "import":
        try:
            entries = read_file(args.file)
        except KbFileError as exc:
            print(exc, file=sys.stderr)
            return EXIT_BAD_FILE
        except OSError as exc:
            print(f"{args.file}: {exc.strerror}", file=sys.stderr)
            return EXIT_BAD_FILE
    async with _knowledge_base(settings) as (db, service):
        if args.faq_command == "import":
            async with db.write() as tx:  # one transaction: all of it or nothing
                created, updated = await service.save_all(tx, entries, by="cli")
                disabled = 0
                if args.replace:
                    disabled = await tx.faq.disable_except([e.id for e in entries], by="cli")
                await tx.audit.log("cli", "faq.import", file=str(args.file), count=len(entries),
                                   replace=args.replace, disabled=disabled)  # fmt: skip
            print(
                f"imported {len(entries)} entries from {args.file}: "
                f"{created} new, {updated} replaced"
                + (f", {disabled} others disabled (kept for history)" if args.replace else "")
            )
            await service.fill(told=_embedding)
            await _judge(db, service)
        elif args.faq_command == "export":
            async with db.read() as tx:
                entries = await tx.faq.entries()
            fmt = args.format or ("csv" if args.output and args.output.suffix == ".csv" else "yaml")
            text = to_csv(entries) if fmt == "csv" else to_yaml(entries)
            if args.output:
                args.output.write_text(text, encoding="utf-8")
                print(f"exported {len(entries)} entries to {args.output}")
            else:
                sys.stdout.write(text)
        else:
            await service.fill(told=_embedding)
            await _judge(db, service)
            async with db.read() as tx:
                result = await service.match(tx, args.text)
            _print_match(result, args.json, settings.core.firm_name)
    return EXIT_OK


def _embedding(count: int) -> None:
    seconds = count * EMBED_SECONDS
    about = f"about {seconds / 60:.0f} min" if seconds >= 90 else f"about {max(seconds, 1):.0f} s"
    what = f"{count} phrasing" + ("s" if count != 1 else "")
    print(f"embedding {what} for matching by meaning ({about}) …", file=sys.stderr)


def _print_match(result: Match, as_json: bool, firm: str) -> None:
    best = result.best
    confident = result.outcome == "answer" and best is not None
    answer = best.entry.answer.replace("{firm}", firm) if best and confident else None
    payload = {
        "id": best.entry.id if confident else None,
        "score": best.score if best else 0.0,
        "answer": answer,
        "outcome": result.outcome,
        "candidates": [
            {"id": c.entry.id, "score": c.score, "question": c.entry.question}
            for c in result.candidates
        ],
    }
    if as_json:
        print(json.dumps(payload, ensure_ascii=False))
        return
    print(f"outcome: {result.outcome}")
    for c in result.candidates:
        print(f"  {c.score:.3f}  {c.entry.id}  {c.entry.question}")
    if answer:
        print(f"\n{answer}")
