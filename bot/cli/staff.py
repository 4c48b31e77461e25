"""`python -m bot staff add|passwd|disable|enable|list`: accounts for the staff console (the
web pages at STAFF_CONSOLE_PATH, not the terminal console of `bot chat`). An account acts as
one chat address and has that address's role, so working in a chat and in the staff console
is one person with one role. There is no default password: `add` reads it from the terminal
(or one line of standard input with --password-stdin) and prints the second factor's
enrolment (the otpauth:// URI, its QR code and secret) and the recovery codes, once."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from typing import Any

from bot.cli.base import EXIT_OK, database, refuse
from bot.config import Settings
from bot.core.types import normalize_address
from bot.web import accounts
from bot.web.sessions import session_store

NAME = "staff"
QUIET = True
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_.-]{2,40}")


def add_parser(sub: Any) -> None:
    staff = sub.add_parser(NAME, help="staff console accounts", description=__doc__)
    actions = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="a new account, with its second factor")
    add.add_argument("name", help="2-40 letters, digits or _ . -")
    add.add_argument("--role", required=True, choices=accounts.ROLES)
    add.add_argument("--address", help="the chat address the account acts as (default staff:NAME)")
    add.add_argument("--password-stdin", action="store_true", help="read the password line")
    passwd = actions.add_parser("passwd", help="a new password (signs every session out)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    for action, text in (("disable", "refuse sign-in, end its sessions"), ("enable", "allow")):
        actions.add_parser(action, help=text).add_argument("name")
    actions.add_parser("list", help="the accounts")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    action = args.staff_command
    if action == "list":
        return await _list(settings)
    if not ACCOUNT_NAME.fullmatch(args.name):
        return refuse("staff", f"{args.name!r}: a name is 2-40 letters, digits or _ . -")
    if action == "add":
        return await _add(settings, args)
    async with database(settings) as db, db.write() as tx:
        account = await tx.staff.by_name(args.name)
        if account is None:
            return refuse("staff", f"there is no account {args.name!r}")
        if action == "passwd":
            try:
                hashed = accounts.hash_password(_password(args.password_stdin))
            except (accounts.WeakPassword, ValueError) as exc:
                return refuse("staff", exc)
            await tx.staff.change(account.id, password_hash=hashed, failed_logins=0)
        elif action == "disable":
            await tx.staff.change(account.id, disabled_at=tx.now())
        else:
            await tx.staff.change(account.id, disabled_at=None, failed_logins=0, locked_until=None)
        await tx.audit.log(f"cli:{NAME}", f"staff.{action}", account=account.name)
    if action in ("passwd", "disable"):  # signed in anywhere: signed out now
        sc = settings.staff_console
        async with database(settings) as db:
            store = session_store(db, sc.staff_console_redis_url, sc.staff_console_max_hours)
            try:
                await store.close_account(account.id)
            finally:
                await store.aclose()
    print(f"{args.name}: {action} done")
    return EXIT_OK


async def _add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        address = normalize_address(args.address or f"staff:{args.name}")
        hashed = accounts.hash_password(_password(args.password_stdin))
    except (accounts.WeakPassword, ValueError) as exc:
        return refuse("staff", exc)
    enrolment, code_hashes = accounts.enrol(args.name)
    async with database(settings) as db, db.write() as tx:
        if any(a.address == address for a in await tx.staff.all()):
            return refuse("staff", f"{address} already has a staff console account")
        account = await tx.staff.add(
            args.name, args.role, address, hashed, enrolment.secret, code_hashes
        )
        if account is None:
            return refuse("staff", f"the name {args.name!r} is taken")
        await tx.roles.grant(address, args.role, by=f"cli:{NAME}")
        await tx.audit.log(f"cli:{NAME}", "staff.add", account=args.name, role=args.role)
    _show_enrolment(args.name, address, args.role, enrolment)
    return EXIT_OK


def _show_enrolment(name: str, address: str, role: str, enrolment: accounts.Enrolment) -> None:
    import segno  # only here: the QR code for an authenticator app

    print(f"Account {name} ({role}) acts as {address}.")
    print("Add it to an authenticator app (Google Authenticator, Microsoft Authenticator, ...):")
    print(f"  {enrolment.uri}")
    print(f"  secret: {enrolment.secret}")
    segno.make(enrolment.uri, error="m").terminal(compact=True)
    print("Recovery codes, each good once instead of the app's code (shown only now):")
    for code in enrolment.recovery_codes:
        print(f"  {code}")


async def _list(settings: Settings) -> int:
    async with database(settings) as db, db.read() as tx:
        found = await tx.staff.all()
    for a in found:
        state = "disabled" if a.disabled_at else "active"
        print(f"{a.name}\t{a.role}\t{a.address}\t{state}")
    if not found:
        print("no staff console accounts yet: python -m bot staff add NAME --role ROLE")
    return EXIT_OK


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first
