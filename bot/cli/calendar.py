"""`python -m bot calendar trading --year YYYY [--json]` and
`calendar override add|del DATE [trading|closed]`: the trading calendar and its overrides."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.base import EXIT_OK, refuse
from bot.config import Settings
from broadcasts.nfp import releases_in
from broadcasts.trading_calendar import (
    CalendarError,
    TradingCalendar,
    load_overrides,
    save_override,
)

NAME = "calendar"
QUIET = False


def add_parser(sub: Any) -> None:
    cal = sub.add_parser(NAME, help="the trading calendar", description=__doc__)
    actions = cal.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")
    trading = actions.add_parser("trading", help="a year's trading days")
    trading.add_argument("--year", type=int, required=True)
    trading.add_argument("--json", action="store_true", help="every day with its reason")
    nfp = actions.add_parser("nfp", help="the year's US non-farm payroll release dates")
    nfp.add_argument("--year", type=int, required=True)
    nfp.add_argument("--json", action="store_true")
    override = actions.add_parser("override", help="change the firm's override file")
    override.add_argument("action", choices=["add", "del"])
    override.add_argument("date", help="YYYY-MM-DD")
    override.add_argument("state", nargs="?", choices=["trading", "closed"])


def _nfp(year: int, as_json: bool) -> int:
    found = releases_in(year)
    if as_json:
        rows = [{"date": r.date.isoformat(), "beijing_time": r.beijing_time} for r in found]
        print(json.dumps(rows))
        return EXIT_OK
    for r in found:
        when = f"{r.beijing:%m-%d %H:%M}"
        print(f"{r.date} {r.date.strftime('%a')}  北京时间 {when}  ({r.reference} data)")
    return EXIT_OK


def run(settings: Settings, args: argparse.Namespace) -> int:
    path = settings.schedule.calendar_overrides
    try:
        if args.calendar_command == "override":
            if args.action == "add" and args.state is None:
                raise CalendarError("say trading or closed, e.g. override add 2027-01-01 closed")
            save_override(path, args.date, args.state if args.action == "add" else None)
            print(f"{path}: {args.date} {'→ ' + args.state if args.action == 'add' else 'removed'}")
            return EXIT_OK
        if not 1990 <= args.year <= 2100:
            raise CalendarError(f"--year {args.year} is out of range")
        if args.calendar_command == "nfp":
            return _nfp(args.year, args.json)
        calendar = TradingCalendar(load_overrides(path))
    except CalendarError as exc:
        return refuse("calendar", exc)
    days = calendar.year(args.year)
    unknown = [d for d in days if d.trading is None]
    if unknown:
        print(
            f"warning: the holiday package has no data for {args.year}; {len(unknown)} weekdays "
            f"are unknown until {path} says trading or closed", file=sys.stderr
        )  # fmt: skip
    if args.json:
        rows = [
            {"date": d.date.isoformat(), "trading": d.trading, "reason": d.reason} for d in days
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    trading = [d for d in days if d.trading]
    print(f"{args.year}: {len(trading)} trading days, {len(unknown)} unknown")
    for d in days:
        if (
            d.reason.startswith(("holiday:", "makeup:"))
            or d.reason == "override"
            or d.trading is None
        ):
            state = {True: "trading", False: "closed", None: "unknown"}[d.trading]
            print(f"  {d.date} {d.date.strftime('%a')} {state:8} {d.reason}")
    return EXIT_OK
