"""`python -m bot clients import|export|link|unlink|merge|email`: a firm's contact list in and
out, as CSV; one client's several addresses joined, taken off, or two files merged into one;
a document e-mailed to a client (`client_email`).

Columns: address, name, language, phone, tier, tags, topics, advisor, links, sms_consent,
stage (only `address` is required; tags, topics and links are separated by `;`; sms_consent
is yes/no, 是/否 or 1/0, empty keeps what is recorded, and a client's own word stands; stage
is the step of the service flow the client is at, by key (custody), number (2) or name
(银行三方托管): the steps before it are recorded as done). `links`
are the client's other addresses: export writes one line per client, import joins them to
the line's client, and an address that is another client's (on file, or on another line)
stops the import. Import is all-or-nothing: the whole file is checked first (each problem
named by line and column), then written in one transaction, a page at a time, so memory stays
flat however long the list is."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.cli import client_email, client_links
from bot.cli.base import EXIT_OK, database, refuse
from bot.cli.client_csv import ListError, lines, split_list
from bot.config import Settings
from bot.core.i18n import Catalog, Translator
from bot.core.phones import mobile
from bot.core.text import sheet_cell
from bot.core.types import normalize_address
from handlers.clients import TAG
from handlers.shared.flow_steps import step_of
from storage.database import Database
from storage.records import ONBOARDING_STEPS
from storage.repos.client_files import TIERS
from storage.repos.client_import import ClientRow, LinksTaken, Taken
from storage.tx import Tx

NAME = "clients"
QUIET = True
COLUMNS = (
    "address", "name", "language", "phone", "tier", "tags", "topics", "advisor", "links",
    "sms_consent", "stage",
)  # fmt: skip
CONSENT = {"yes": True, "no": False, "是": True, "否": False, "1": True, "0": False}
ACTOR = "cli:clients-import"
LANGUAGES = ("zh", "en")
PAGE = 1000
_NAMES = Translator(Catalog(), "zh", "")  # the steps' names, for the stage column


def add_parser(sub: Any) -> None:
    clients = sub.add_parser(
        NAME, help="import or export the client list; link and merge clients", description=__doc__
    )
    actions = clients.add_subparsers(dest="clients_command", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="add or update clients from a CSV file")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--encoding", default="utf-8-sig", help="file encoding (default UTF-8; e.g. gbk)"
    )
    exp = actions.add_parser("export", help="write every client as CSV")
    exp.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    client_links.add_parsers(actions)
    client_email.add_parser(actions)


def _row(line: int, raw: dict[str, str], topics: set[str], advisors: set[str]) -> ClientRow:
    def bad(column: str, why: str) -> ListError:
        return ListError(f"line {line}, column {column}: {why}")

    try:
        address = client_links.person(raw.get("address", ""))
    except ValueError as exc:
        raise bad("address", str(exc)) from None
    try:
        links = _links(raw.get("links", ""), address)
    except ValueError as exc:
        raise bad("links", str(exc)) from None
    language = raw.get("language", "").lower() or None
    if language is not None and language not in LANGUAGES:
        raise bad("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    phone = None
    if raw.get("phone"):
        phone = mobile(raw["phone"])
        if phone is None:
            raise bad("phone", f"{raw['phone'][:30]!r} is not an 11-digit mainland mobile number")
    tier = raw.get("tier", "").lower() or None
    if tier is not None and tier not in TIERS:
        raise bad("tier", f"{tier!r} is not one of {', '.join(TIERS)}")
    tags = split_list(raw["tags"]) if raw.get("tags") else None
    for tag in tags or ():
        if not TAG.fullmatch(tag):
            raise bad("tags", f"tag {tag[:20]!r}: 1-50 letters, digits, _ or - (no spaces)")
    listed = split_list(raw["topics"]) if raw.get("topics") else None
    for key in listed or ():
        if key not in topics:
            raise bad("topics", f"unknown topic {key!r} (known: {', '.join(sorted(topics))})")
    advisor = None
    if raw.get("advisor"):
        try:
            advisor = normalize_address(raw["advisor"])
        except ValueError as exc:
            raise bad("advisor", str(exc)) from None
        if advisor not in advisors:
            raise bad(
                "advisor", f"{advisor} does not hold the advisor role (/grant {advisor} advisor)"
            )
    name = raw.get("name") or None
    if name is not None and len(name) > 200:
        raise bad("name", "longer than 200 characters")
    consent = None
    if raw.get("sms_consent"):
        consent = CONSENT.get(raw["sms_consent"].lower())
        if consent is None:
            raise bad("sms_consent", f"{raw['sms_consent'][:20]!r} is not yes, no, 是, 否, 1 or 0")
    stage = None
    if raw.get("stage"):
        stage = step_of(_NAMES, raw["stage"])
        if stage is None:
            known = ", ".join(ONBOARDING_STEPS)
            raise bad("stage", f"{raw['stage'][:30]!r} is not a step of the flow ({known})")
    return ClientRow(
        address, name, language, phone, tier, tags, listed, advisor, links, consent, stage
    )


def _links(value: str, address: str) -> tuple[str, ...]:
    """A line's other addresses: canonical, once each, without the line's own address."""
    found = dict.fromkeys(client_links.person(a) for a in split_list(value))
    return tuple(a for a in found if a != address)


def _once(line: int, row: ClientRow, seen: dict[str, int]) -> None:
    """Each address on one line only, as the line's `address` or among its `links`: one
    address belongs to one client."""
    for column, address in (("address", row.address), *(("links", a) for a in row.links)):
        if address in seen:
            raise ListError(
                f"line {line}, column {column}: {address} is also on line {seen[address]}"
            )
        seen[address] = line


def _taken(page: list[tuple[int, ClientRow]], taken: Taken) -> ListError:
    """The first link found on another client's file, named with both clients."""
    line = next(n for n, r in page if r.address == taken.address)
    whose = f"{taken.link} is client #{taken.owner}'s address"
    if taken.client is None:
        why = (
            f"{whose} and {taken.address} is not on file yet (nothing is moved in silence; "
            f"to join {taken.address} to #{taken.owner}: clients link {taken.link} {taken.address})"
        )
    else:
        why = (
            f"{whose}, not client #{taken.client}'s ({taken.address}); nothing is moved in "
            f"silence (if they are one person: clients merge {taken.address} {taken.link})"
        )
    return ListError(f"line {line}, column links: {why}")


async def _write_page(
    tx: Tx, page: list[tuple[int, ClientRow]], settings: Settings
) -> tuple[int, int]:
    try:
        return await tx.client_lists.import_page(
            [row for _, row in page], actor=ACTOR, default_language=settings.core.default_language
        )
    except LinksTaken as exc:
        raise _taken(page, exc.taken[0]) from None


async def _import(db: Database, settings: Settings, path: Path, encoding: str) -> tuple[int, int]:
    async with db.read() as tx:
        topics = {t.key for t in await tx.topics.list(include_disabled=True)}
        advisors = {a for a, r in await tx.roles.all() if r == "advisor"}
    seen: dict[str, int] = {}
    count = links = 0
    for line, raw in lines(path, encoding, COLUMNS):  # first pass: check everything, keep nothing
        row = _row(line, raw, topics, advisors)
        _once(line, row, seen)
        count, links = count + 1, links + len(row.links)
    created = updated = 0
    # Second pass: one transaction, a page at a time; a link found on another client's file
    # (which the first pass cannot know without the database) rolls it all back.
    async with db.write() as tx:
        page: list[tuple[int, ClientRow]] = []
        for line, raw in lines(path, encoding, COLUMNS):
            page.append((line, _row(line, raw, topics, advisors)))
            if len(page) == PAGE:
                c, u = await _write_page(tx, page, settings)
                created, updated, page = created + c, updated + u, []
        if page:
            c, u = await _write_page(tx, page, settings)
            created, updated = created + c, updated + u
        await tx.audit.log(
            ACTOR, "clients.import", file=path.name, rows=count, created=created,
            updated=updated, links=links,
        )  # fmt: skip
    return created, updated


async def _export(db: Database, out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    async with db.read() as tx:
        async for row in tx.client_lists.export():
            writer.writerow({k: sheet_cell(v) if k == "name" else v for k, v in row.items()})
            count += 1
    return count


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as db:
        if args.clients_command == "email":
            return await client_email.run(db, settings, args)
        if args.clients_command in client_links.ACTIONS:
            return await client_links.run(db, args)
        if args.clients_command == "import":
            try:
                created, updated = await _import(db, settings, args.file, args.encoding)
            except ListError as exc:
                return refuse(str(args.file), f"{exc}; nothing was imported")
            print(f"imported {created + updated} clients: {created} new, {updated} updated")
            return EXIT_OK
        if args.output is not None:
            with args.output.open("w", encoding="utf-8-sig", newline="") as out:
                count = await _export(db, out)
        else:
            try:
                count = await _export(db, sys.stdout)
            except BrokenPipeError:  # `… | head`: the reader has what it wanted
                return EXIT_OK
        print(f"exported {count} clients", file=sys.stderr)
        return EXIT_OK
