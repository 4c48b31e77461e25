"""The monthly feedback report for the service manager: a chat message, a CSV of the
figures, and an HTML page with inline SVG charts (no scripts, no network; Chinese labels in
the fonts the reader's system has)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from html import escape
from typing import Any

from bot.core.i18n import Translator
from bot.core.text import sheet_cell, to_plain
from bot.core.types import Outbound
from storage.records import ONBOARDING_STEPS

# Whatever CJK font the reader's system has; no web font is fetched.
FONTS = (
    "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','WenQuanYi Micro Hei',"
    "'Source Han Sans SC',sans-serif"
)


SMS_KEYS = ("sent", "delivered", "failed", "parts")
RETENTION_KEYS = ("messages", "erased", "audit")


def text(t: Translator, month: str, f: dict[str, Any]) -> str:
    body = _text(t, month, f)
    sms = f.get("sms") or {}
    if sms.get("sent") or sms.get("failed"):  # a firm without SMS reads no SMS line
        body += "\n" + t("monthly.sms_line", **{k: sms.get(k, 0) for k in SMS_KEYS})
    flow = f.get("onboarding") or {}
    if flow.get("opened"):
        body += "\n" + flow_text(t, flow)
    purged = f.get("retention") or {}
    if any(purged.values()):  # a month the purge deleted nothing reads no line
        body += "\n" + t("retention.monthly_line", **{k: purged.get(k, 0) for k in RETENTION_KEYS})
    return body


def flow_text(t: Translator, flow: dict[str, Any]) -> str:
    """The service flow of the clients who opened an account in the month, in one line."""
    steps = t("common.list_separator").join(
        t("monthly.flow_step", step=t(f"onboard.step_{s}"), n=flow["reached"][s])
        for s in ONBOARDING_STEPS[1:]
    )
    return t(
        "monthly.flow_line", opened=flow["opened"], steps=steps,
        overdue=sum(flow["overdue"].values()),
    )  # fmt: skip


def _text(t: Translator, month: str, f: dict[str, Any]) -> str:
    by_cat: dict[str, int] = {}
    for row in f["complaints"]:
        by_cat[row["category"]] = by_cat.get(row["category"], 0) + row["n"]
    cats = "、".join(f"{t(f'ticket.cat_{k}')} {n}" for k, n in sorted(by_cat.items())) or "0"
    delivered = sum(b["sent"] for b in f["broadcasts"])
    reach = sum(b["recipients"] for b in f["broadcasts"])
    faq = f["faq"]
    return t(
        "monthly.text",
        month=month,
        complaints=sum(by_cat.values()),
        categories=cats,
        first=_num(f["first_response_hours"]),
        resolved=_num(f["resolution_hours"]),
        breaches=f["sla_breaches"],
        satisfaction=_num(f["satisfaction"]["mean"]),
        visits=_num(f["return_visits"]["mean"]),
        asked=faq["asked"],
        answered=faq["answered"],
        hit_rate=_share(faq["answered"], faq["asked"]),
        chosen=faq["chosen"],
        helpful=f"{faq['helpful']}/{faq['rated']}",
        unanswered=faq["unanswered"],
        top_unanswered="、".join(f"{q['question'][:30]}({q['n']})" for q in faq["top_unanswered"])
        or "-",
        broadcasts=len(f["broadcasts"]),
        delivered=f"{delivered}/{reach}",
    )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def rows(f: dict[str, Any], missing: str = "-") -> list[tuple[str, str, str]]:
    """(section, item, value): the figures as a flat table; `missing` where there is none."""

    def num(value: float | None) -> str:
        return missing if value is None else _num(value)

    faq = f["faq"]
    out = [(f"complaints:{r['category']}", r["status"], str(r["n"])) for r in f["complaints"]]
    out += [
        ("tickets", "mean_first_response_hours", num(f["first_response_hours"])),
        ("tickets", "mean_resolution_hours", num(f["resolution_hours"])),
        ("tickets", "sla_breaches", str(f["sla_breaches"])),
        ("satisfaction", "mean", num(f["satisfaction"]["mean"])),
        ("satisfaction", "answers", str(f["satisfaction"]["n"])),
        ("return_visits", "mean", num(f["return_visits"]["mean"])),
        ("return_visits", "answers", str(f["return_visits"]["n"])),
        *(
            ("faq", key, str(faq[key]))
            for key in ("asked", "answered", "suggested", "chosen", "handed_on")
        ),
        ("faq", "hit_rate", _share(faq["answered"], faq["asked"]) if faq["asked"] else missing),
        ("faq", "helpful", str(f["faq"]["helpful"])),
        ("faq", "rated", str(f["faq"]["rated"])),
        ("faq", "unanswered", str(f["faq"]["unanswered"])),
    ]
    out += [("faq_top_unanswered", q["question"], str(q["n"])) for q in f["faq"]["top_unanswered"]]
    out += [(f"subscriptions:{s['topic']}", s["action"], str(s["n"])) for s in f["subscriptions"]]
    out += [
        (f"broadcast:{b['id']}", "sent/recipients", f"{b['sent']}/{b['recipients']}")
        for b in f["broadcasts"]
    ]
    sms = f.get("sms") or {}
    out += [("sms", key, str(sms.get(key, 0))) for key in SMS_KEYS]
    purged = f.get("retention") or {}
    out += [("retention", key, str(purged.get(key, 0))) for key in RETENTION_KEYS]
    return out + flow_rows(f.get("onboarding") or {}, missing)


def flow_table(t: Translator, flow: dict[str, Any]) -> str:
    """The service flow report: a line per step (reached, skipped, median days from the step
    before, overdue now)."""
    lines = [t("monthly.flow_title", opened=flow["opened"])]
    for n, step in enumerate(ONBOARDING_STEPS, 1):
        days = flow["median_days"].get(step)
        lines.append(
            t(
                "monthly.flow_row", n=n, step=t(f"onboard.step_{step}"),
                reached=flow["reached"][step], skipped=flow["skipped"][step],
                days="-" if days is None else f"{days:g}",
                overdue=flow["overdue"].get(step, 0),
            )
        )  # fmt: skip
    return "\n".join(lines)


def flow_rows(flow: dict[str, Any], missing: str = "-") -> list[tuple[str, str, str]]:
    if not flow:
        return []
    out = [("onboarding", "opened", str(flow["opened"]))]
    for step in ONBOARDING_STEPS:
        days = flow["median_days"].get(step)
        out += [
            (f"onboarding:{step}", "reached", str(flow["reached"][step])),
            (f"onboarding:{step}", "skipped", str(flow["skipped"][step])),
            (f"onboarding:{step}", "median_days_from_previous",
             missing if days is None else f"{days:g}"),
            (f"onboarding:{step}", "overdue", str(flow["overdue"].get(step, 0))),
        ]  # fmt: skip
    return out


def to_csv(f: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "value"])
    # An empty cell where there is no figure: a spreadsheet reads "-" as the start of a formula.
    writer.writerows((sheet_cell(c) for c in row) for row in rows(f, missing=""))
    return out.getvalue()


def _bars(title: str, items: list[tuple[str, float]], unit: str = "") -> str:
    """A horizontal bar chart as inline SVG."""
    width, row, label_w = 560, 26, 170
    top = max((v for _, v in items), default=0) or 1
    height = row * max(len(items), 1) + 8
    parts = [
        f"<figure><figcaption>{escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    if not items:
        parts.append(f'<text x="4" y="18">{escape("—")}</text>')
    for i, (name, value) in enumerate(items):
        y = i * row + 4
        length = (width - label_w - 60) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row - 8}" '
            'fill="#c0392b"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 15}">{value:g}{escape(unit)}</text>'
        )
    parts.append("</svg></figure>")
    return "".join(parts)


def to_html(t: Translator, month: str, firm: str, f: dict[str, Any]) -> str:
    by_cat: dict[str, float] = {}
    for row in f["complaints"]:
        by_cat[row["category"]] = by_cat.get(row["category"], 0) + row["n"]
    subs: dict[str, float] = {}
    for s in f["subscriptions"]:
        sign = 1 if s["action"] == "subscribe" else -1
        subs[s["topic"]] = subs.get(s["topic"], 0) + sign * s["n"]
    charts = [
        _bars(
            t("monthly.chart_complaints"),
            [(t(f"ticket.cat_{k}"), v) for k, v in sorted(by_cat.items())],
        ),
        _bars(
            t("monthly.chart_faq"),
            [
                (t("monthly.faq_answered"), f["faq"]["answered"]),
                (t("monthly.faq_chosen"), f["faq"]["chosen"]),
                (t("monthly.faq_handed_on"), f["faq"]["handed_on"]),
            ],
        ),
        _bars(t("monthly.chart_subscriptions"), [(k, max(v, 0)) for k, v in sorted(subs.items())]),
        _bars(
            t("monthly.chart_broadcasts"),
            [
                (
                    f"#{b['id']}",
                    round(100 * b["sent"] / b["recipients"], 1) if b["recipients"] else 0,
                )
                for b in f["broadcasts"]
            ],
            "%",
        ),
    ]
    lines = to_plain(text(t, month, f)).splitlines()[1:]  # the first is the page's heading
    summary = "<br>".join(escape(line) for line in lines)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(firm)} {escape(month)}</title>"
        f"<style>body{{font-family:{FONTS};margin:2em;color:#222}}figure{{margin:1.5em 0}}"
        "figcaption{font-weight:bold;margin-bottom:.4em}"
        "svg text{font-size:13px;font-family:inherit}</style>"
        f"</head><body><h1>{escape(firm)} · {escape(t('monthly.title', month=month))}</h1>"
        f"<p>{summary}</p>{''.join(charts)}</body></html>"
    )


def files(t: Translator, month: str, firm: str, f: dict[str, Any]) -> list[dict[str, str]]:
    """The figures as CSV (with a BOM: Excel then reads the Chinese right) and the page with
    the charts, as `{"name", "type", "text"}`: a chat's document or an e-mail's attachment."""
    return [
        {"name": f"monthly-{month}.csv", "type": "text/csv", "text": "\ufeff" + to_csv(f)},
        {"name": f"monthly-{month}.html", "type": "text/html", "text": to_html(t, month, firm, f)},
    ]


def mail(t: Translator, month: str, firm: str, f: dict[str, Any]) -> dict[str, Any]:
    """The report as an e-mail: subject, the text as a plain body, both files attached."""
    attached = files(t, month, firm, f)
    body = (
        to_plain(text(t, month, f))
        + "\n\n"
        + to_plain(t("mail.monthly_files", csv=attached[0]["name"], html=attached[1]["name"]))
    )
    subject = to_plain(t("mail.monthly_subject", month=month))
    return {"subject": subject, "body": body, "attachments": attached}


async def send(
    tx: Any,
    t: Translator,
    month: str,
    start: Any,
    end: Any,
    targets: list[str],
    firm: str = "",
    emails: Sequence[str] = (),
    onboarding_due: dict[str, int] | None = None,
) -> list[Any]:
    """Last month's report to each target, once per month: the message, then the figures as
    CSV and the page with the charts as documents; and one e-mail to `emails`, queued in the
    mail outbox in this transaction (so it is claimed with the month, and kept until sent)."""
    key = start.astimezone(dt.UTC)
    if not (targets or emails) or not await tx.rhythm.claim_fire("monthly.report", key, "done"):
        return []
    figures = await tx.monthly.figures(start, end, onboarding_due)
    if emails:
        await tx.mail.add(f"monthly:{month}", emails, **mail(t, month, firm, figures))
    csv_file, html_file = (
        {"name": f["name"], "text": f["text"]} for f in files(t, month, firm, figures)
    )
    outs = []
    for target in targets:
        outs.append(Outbound(text(t, month, figures), chat=target))
        outs.append(Outbound(t("monthly.csv_caption"), chat=target, document=csv_file))
        outs.append(Outbound(t("monthly.html_caption"), chat=target, document=html_file))
    return outs
