"""The standard service flow (标准化流程) every new client goes through, tracked step by step:
公司开户 → 银行三方托管 → 软件下载及使用指导 → 交易前的辅导 → 客户分配 → 短信通知交易编码及投资顾问
→ 新开户客户回访 → 建立客户档案 → 客户细分.

Staff (and advisors) mark steps: `/onboard` lists the clients in the flow, overdue first;
`/onboard ID` shows one client's steps; `/onboard ID STEP done|skip REASON|undo` records one;
`/onboard ID open` starts it (the bot sends the custody and software guides and offers the
coaching); `/onboard ID code CODE` tells the client their trading code and advisor on their
best route (by SMS where the firm has it: a notice, no consent needed) and marks that step.
Some steps the bot notices itself (an advisor assigned, the return visit answered, the file
complete, a tier or tag set); what it notices never undoes what staff recorded.
"""

from __future__ import annotations

import re

from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.types import Inbound, Outbound
from handlers.shared.client_lookup import find_client
from handlers.shared.desk_policy import DeskPolicy
from handlers.shared.flow_steps import step_of
from storage.records import ONBOARDING_STEPS, Client
from storage.tx import Tx

router = Router("onboarding")

STAFF = ("advisor", "staff", "admin")
SHOWN = 20
CODE = re.compile(r"[A-Za-z0-9-]{4,32}")
DONE_WORDS = {"done": "done", "完成": "done", "已完成": "done", "ok": "done"}
SKIP_WORDS = {"skip": "skipped", "跳过": "skipped"}
UNDO_WORDS = {"undo", "撤销", "pending", "未完成"}


@router.command("onboard", roles=STAFF)
async def onboard(
    event: Inbound, tx: Tx, t: Translator, args: list[str], desk: DeskPolicy
) -> Outbound | list[Outbound]:
    if not args:
        return Outbound(await board(tx, t, desk))
    client = await find_client(tx, args[0])
    if client is None or client.erased_at is not None:
        return Outbound(t("clientfile.unknown", who=args[0][:60]))
    rest = args[1:]
    if not rest:
        return Outbound(await steps_text(tx, t, client, desk))
    if rest[0].lower() in ("open", "开户"):
        return await _opened(event, tx, t, client, desk)
    if rest[0].lower() in ("code", "编码", "交易编码") and len(rest) == 2:
        return await _trading_code(event, tx, t, client, desk, rest[1])
    step = step_of(t, rest[0])
    action = rest[1].lower() if len(rest) > 1 else ""
    if step is None or not action:
        return Outbound(t("onboard.usage"))
    if action in UNDO_WORDS:
        await tx.onboarding.reopen(client.id, step)
        await tx.audit.log(event.sender, "onboard.undo", client_id=client.id, step=step)
    elif action in DONE_WORDS or action in SKIP_WORDS:
        state = DONE_WORDS.get(action) or SKIP_WORDS[action]
        reason = " ".join(rest[2:])[:500] or None
        if state == "skipped" and not reason:
            return Outbound(t("onboard.skip_needs_reason"))
        if step == "opened" and state == "done":
            return await _opened(event, tx, t, client, desk)
        await tx.onboarding.mark(client.id, step, state, event.sender, reason=reason)
        await tx.audit.log(
            event.sender, f"onboard.{state}", client_id=client.id, step=step, reason=reason
        )
    else:
        return Outbound(t("onboard.usage"))
    return Outbound(await steps_text(tx, t, client, desk))


async def _opened(
    event: Inbound, tx: Tx, t: Translator, client: Client, desk: DeskPolicy
) -> list[Outbound]:
    """The account is open: the flow starts, and the client gets the custody and software
    guides with the offer of coaching before the first trade, in their language."""
    first = await tx.onboarding.mark(client.id, "opened", "done", event.sender, overwrite=False)
    await tx.audit.log(event.sender, "onboard.done", client_id=client.id, step="opened")
    outs = [Outbound(await steps_text(tx, t, client, desk))]
    if first:
        to = await tx.onboarding.address(client.id)
        if to is not None:
            tc = t.with_lang(client.language)
            for key in (
                "onboard.guide_custody",
                "onboard.guide_software",
                "onboard.offer_coaching",
            ):
                outs.append(Outbound(tc(key), chat=to, ref=f"onboard:{client.id}"))
    return outs


async def _trading_code(
    event: Inbound, tx: Tx, t: Translator, client: Client, desk: DeskPolicy, code: str
) -> Outbound | list[Outbound]:
    """The trading code goes to the client alone: never shown back to staff in full, never in
    the audit; by SMS where the firm has it and the client a phone (a notice)."""
    if not CODE.fullmatch(code):
        return Outbound(t("onboard.bad_code"))
    file = await tx.files.fields(client.id)
    advisor_name = "-"
    if file is not None and file.advisor:
        advisor = await tx.advisors.get(file.advisor)
        advisor_name = (advisor.display_name if advisor else None) or t("onboard.your_advisor")
    sms = file is not None and file.phone and tx.sms_policy is not None
    to = f"sms:{file.phone}" if sms else await tx.onboarding.address(client.id)  # type: ignore[union-attr]
    if to is None:
        return Outbound(t("onboard.no_route", id=client.id))
    await tx.files.set(client.id, trading_code=code)
    tc = t.with_lang("zh" if sms else client.language)
    text = tc("onboard.code_notice", code=code, advisor=advisor_name)
    await tx.onboarding.mark(client.id, "code_sent", "done", event.sender)
    await tx.audit.log(event.sender, "onboard.code_sent", client_id=client.id, to=to)
    said = t("onboard.code_sent", id=client.id, code=masked(code), to=to.split(":", 1)[0])
    return [Outbound(said), Outbound(text, chat=to, ref=f"onboard:{client.id}")]


def masked(code: str) -> str:
    return "*" * max(len(code) - 4, 2) + code[-4:] if len(code) > 4 else "****"


async def steps_text(tx: Tx, t: Translator, client: Client, desk: DeskPolicy) -> str:
    flow = await tx.onboarding.of(client.id)
    now = tx.now()
    lines = [t("onboard.title", id=client.id, name=client.display_name or "-")]
    for n, step in enumerate(ONBOARDING_STEPS, 1):
        record = flow.steps.get(step)
        name = t(f"onboard.step_{step}")
        if record is not None and record.state == "done":
            line = t("onboard.line_done", n=n, step=name, at=desk.local(record.at), by=record.by)
        elif record is not None:
            line = t(
                "onboard.line_skipped", n=n, step=name, why=record.reason or "-",
                by=record.by,
            )  # fmt: skip
        else:
            due = flow.due_at(step, desk.onboarding_due)
            if due is None:
                line = t("onboard.line_pending", n=n, step=name)
            elif due < now:
                line = t("onboard.line_overdue", n=n, step=name, due=desk.local(due))
            else:
                line = t("onboard.line_due", n=n, step=name, due=desk.local(due))
        lines.append(line)
    if flow.opened_at is None:
        lines.append(t("onboard.not_opened", id=client.id))
    lines.append(t("onboard.usage"))
    return "\n".join(lines)


async def board(tx: Tx, t: Translator, desk: DeskPolicy) -> str:
    """Clients in the flow by their next step, those with overdue steps first."""
    rows = await tx.onboarding.board(desk.onboarding_due, tx.now())
    if not rows:
        return t("onboard.board_empty")
    lines = [t("onboard.board_title", n=len(rows))]
    for flow, late in rows[:SHOWN]:
        name = flow.name or "-"
        step = flow.next_step()
        next_name = t(f"onboard.step_{step}") if step else "-"
        key = "onboard.board_late" if late else "onboard.board_line"
        lines.append(t(key, id=flow.client_id, name=name, step=next_name, n=len(late)))
    if len(rows) > SHOWN:
        lines.append(t("onboard.board_more", n=len(rows) - SHOWN))
    return "\n".join(lines)
