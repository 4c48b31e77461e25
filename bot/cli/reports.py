"""`python -m bot report complaints|consultations --month YYYY-MM`: the month's complaint
handling forms (客户投诉处理单) and call record forms (客户来电记录单), as CSV or JSON.
`report monthly --month YYYY-MM [--email] [--to ADDRESS …]`: the feedback report, written
to files and, with --email, sent at once to REPORT_EMAILS (or the --to addresses)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

from bot.cli import mailing
from bot.cli.base import EXIT_OK, database, refuse, translator
from bot.config import Settings
from bot.core.text import to_plain
from bot.mail import Attachment
from broadcasts import monthly, service_forms
from storage.repos.onboarding import flow_figures

NAME = "report"
QUIET = True
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def _month(value: str) -> str:
    if not _MONTH.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month like 2026-11")
    return value


def add_parser(sub: Any) -> None:
    report = sub.add_parser(NAME, help="monthly service reports", description=__doc__)
    kinds = report.add_subparsers(dest="report_kind", required=True, metavar="REPORT")
    for name, what in (
        ("complaints", "complaint handling forms"),
        ("consultations", "call record forms"),
    ):
        one = kinds.add_parser(name, help=f"the month's {what}")
        one.add_argument("--month", required=True, type=_month, help="YYYY-MM, in TIMEZONE")
        one.add_argument("--format", choices=["csv", "json"], default="csv")
    flow = kinds.add_parser(
        "onboarding", help="the service flow of the clients who opened an account in the month"
    )
    flow.add_argument("--month", required=True, type=_month, help="YYYY-MM, in TIMEZONE")
    flow.add_argument("--format", choices=["text", "csv", "json"], default="text")
    monthly_ = kinds.add_parser("monthly", help="the month's feedback report (text, CSV, HTML)")
    monthly_.add_argument("--month", required=True, type=_month, help="YYYY-MM, in TIMEZONE")
    monthly_.add_argument(
        "-o", "--output", type=Path, default=Path("."), help="directory for the CSV and HTML"
    )
    monthly_.add_argument(
        "--email", action="store_true", help="e-mail it now to REPORT_EMAILS (or --to)"
    )
    monthly_.add_argument(
        "--to", action="append", default=[], metavar="ADDRESS", help="e-mail it here (repeat)"
    )


async def _monthly(settings: Settings, args: argparse.Namespace) -> int:
    t = translator(settings)
    emailing = args.email or bool(args.to)
    to = mailing.recipients(args.to or settings.schedule.report_emails)
    if isinstance(to, str):
        return refuse("report monthly --to", to)
    if emailing and not settings.mail.enabled:  # before the work, not after it
        return refuse("report monthly --email", "e-mail is not configured (set SMTP_HOST)")
    start, end = service_forms.bounds(args.month, settings.core.tz)
    async with database(settings) as db, db.read() as tx:
        figures = await tx.monthly.figures(start, end, settings.desk.onboarding_due)
    args.output.mkdir(parents=True, exist_ok=True)
    base = args.output / f"monthly-{args.month}"
    base.with_suffix(".csv").write_text(monthly.to_csv(figures), "utf-8-sig")
    page = monthly.to_html(t, args.month, settings.core.firm_name, figures)
    base.with_suffix(".html").write_text(page, "utf-8")
    print(to_plain(monthly.text(t, args.month, figures)))
    print(f"wrote {base}.csv and {base}.html", file=sys.stderr)
    if not emailing:
        return EXIT_OK
    firm = settings.core.firm_name
    mail = monthly.mail(t, args.month, firm, figures)
    files = [Attachment.of(f) for f in mail["attachments"]]
    return await mailing.send(
        settings, "report monthly --email", to, mail["subject"], mail["body"], files
    )


async def _onboarding(settings: Settings, args: argparse.Namespace) -> int:
    """Clients who reached each step, median days between steps, overdue counts (now)."""
    t = translator(settings)
    start, end = service_forms.bounds(args.month, settings.core.tz)
    async with database(settings) as db, db.read() as tx:
        flows = await tx.onboarding.opened_between(start, end)
        figures = flow_figures(flows, settings.desk.onboarding_due, tx.now())
    if args.format == "json":
        json.dump(figures, sys.stdout, ensure_ascii=False, indent=1)
        print()
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["section", "item", "value"])
        writer.writerows(monthly.flow_rows(figures, missing=""))
    else:
        print(to_plain(monthly.flow_table(t, figures)))
    return EXIT_OK


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.report_kind == "monthly":
        return await _monthly(settings, args)
    if args.report_kind == "onboarding":
        return await _onboarding(settings, args)
    kind = "complaint" if args.report_kind == "complaints" else "consult"
    async with database(settings) as db, db.read() as tx:
        rows = await service_forms.rows(tx, kind, args.month, settings.core.tz)
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        sys.stdout.write(service_forms.to_csv(kind, rows))
    print(f"{len(rows)} {args.report_kind} in {args.month}", file=sys.stderr)
    return EXIT_OK
