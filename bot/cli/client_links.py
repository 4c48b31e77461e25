"""`python -m bot clients link|unlink|merge`: one client, several addresses, from a terminal.

The same acts as `/client ID link|unlink ADDRESS` and `/client merge ID ID` in a staff chat,
each in the audit log with actor "cli". An address is never moved from one client to another
(`link` refuses and suggests `merge`, which makes two files one: the older survives)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.base import EXIT_OK, refuse
from bot.core.types import normalize_address
from handlers.shared.client_lookup import find_client
from storage.database import Database
from storage.records import Client
from storage.tx import Tx

ACTOR = "cli"
ACTIONS = ("link", "unlink", "merge")


def person(given: str) -> str:
    """The address of one person (`clients link|unlink`, and a client list's `address` and
    `links`): its canonical form, or ValueError saying why not."""
    address = normalize_address(given)
    if address.split(":", 1)[1].startswith("-"):
        raise ValueError(f"{address} is a group chat, not a person")
    return address


def add_parsers(actions: Any) -> None:
    link = actions.add_parser("link", help="join another address to a client's file")
    link.add_argument("address", help="an address already on the client's file")
    link.add_argument("other", metavar="other_address", help="the address to join to it")
    unlink = actions.add_parser("unlink", help="take an address off its client's file")
    unlink.add_argument("address")
    merge = actions.add_parser(
        "merge", help="make two client files one (the older survives; differences are noted)"
    )
    merge.add_argument("first", metavar="A", help="a client id or one of their addresses")
    merge.add_argument("second", metavar="B", help="a client id or one of their addresses")


async def run(db: Database, args: argparse.Namespace) -> int:
    command = f"clients {args.clients_command}"
    try:
        if args.clients_command == "link":
            return await _link(db, person(args.address), person(args.other))
        if args.clients_command == "unlink":
            return await _unlink(db, person(args.address))
    except ValueError as exc:
        return refuse(command, exc)
    return await _merge(db, args.first, args.second)


async def _addresses(tx: Tx, client_id: int) -> str:
    return ", ".join(sorted(i.address for i in await tx.clients.identities(client_id)))


async def _link(db: Database, address: str, other: str) -> int:
    async with db.write() as tx:
        client = await tx.clients.by_address(address)
        if client is None:
            return refuse("clients link", f"{address} is on no client's file")
        status = await tx.links.attach(client.id, other)
        if status == "taken":
            owner = await tx.clients.by_address(other)
            return refuse(
                "clients link",
                f"{other} is already client #{owner.id if owner else '?'}'s address, not "
                f"#{client.id}'s; nothing was moved. If the two are one person: "
                f"python -m bot clients merge {address} {other}",
            )
        if status == "linked":
            await tx.audit.log(ACTOR, "client.link", client_id=client.id, address=other)
        now = await _addresses(tx, client.id)
    done = "joined" if status == "linked" else "was already on"
    print(f"{other} {done} client #{client.id}'s file; its addresses: {now}")
    return EXIT_OK


async def _unlink(db: Database, address: str) -> int:
    async with db.write() as tx:
        client = await tx.clients.by_address(address)
        if client is None:
            return refuse("clients unlink", f"{address} is on no client's file")
        status = await tx.links.detach(client.id, address)
        if status != "unlinked":
            why = (
                f"{address} is client #{client.id}'s only address; a file keeps one "
                "(to remove a client, they ask for erasure)"
                if status == "last"
                else f"{address} is no longer client #{client.id}'s"
            )
            return refuse("clients unlink", why)
        await tx.audit.log(ACTOR, "client.unlink", client_id=client.id, address=address)
        left = await _addresses(tx, client.id)
    print(f"{address} is off client #{client.id}'s file; its addresses: {left}")
    return EXIT_OK


async def _merge(db: Database, first: str, second: str) -> int:
    async with db.write() as tx:
        found: list[Client] = []
        for given in (first, second):
            client = await find_client(tx, given)
            if client is None or client.erased_at is not None:
                return refuse("clients merge", f"{given!r} names no client (an id or an address)")
            found.append(client)
        if found[0].id == found[1].id:
            return refuse("clients merge", f"{first} and {second} are both client #{found[0].id}")
        merged = await tx.links.merge(found[0].id, found[1].id, by=ACTOR)
        await tx.audit.log(
            ACTOR, "client.merge", client_id=merged.kept, gone=merged.gone,
            addresses=merged.addresses, conflicts=merged.conflicts,
        )  # fmt: skip
        now = await _addresses(tx, merged.kept)
    print(f"client #{merged.gone} merged into #{merged.kept} (the older file, which is kept)")
    print(f"moved to #{merged.kept}: {', '.join(merged.addresses) or '-'}; its addresses: {now}")
    for name, (kept, other) in merged.conflicts.items():
        print(f"differed: {name}: kept {kept}, #{merged.gone} had {other} (noted on the file)")
    if not merged.conflicts:
        print("nothing differed (where only one file had a value, it was kept)")
    return EXIT_OK
