"""The clients and FAQ pages of the staff console: finding a client and changing their file,
reading the knowledge base and what it lacks, and trying a question — every change done as
the chat command it is (`/client …`, `/faq …`), so the chat's role checks and audit hold."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.commands import text_event
from storage.records import Client
from tests.e2e.staff_console.conftest import Browser, ConsoleBot, signed_in

Browsers = Callable[[], Awaitable[Browser]]


async def on_file(
    bot: ConsoleBot, address: str, name: str, *, phone: str | None = None, tag: str | None = None
) -> Client:
    async with bot.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            address, language="zh", display_name=name, username=None
        )
        if phone:
            await tx.files.set(client.id, phone=phone)
        if tag:
            await tx.files.add_tag(client.id, tag)
    return client


# --- clients --------------------------------------------------------------------------------


async def test_search_finds_a_client_by_phone_and_by_tag_and_shows_their_words_as_text(
    console: ConsoleBot, browser: Browsers
) -> None:
    await console.add_account("li", "staff")
    x = await on_file(console, "telegram:555", "<b>x</b>", phone="13800138000", tag="高净值")
    other = await on_file(console, "telegram:556", "王五", phone="13900000000")
    b = await browser()
    await b.sign_in("li")

    for q in ("0013800", "高净值"):
        status, page = await b.get("/clients", params={"q": q})
        assert status == 200 and f'/clients/{x.id}"' in page, q
        assert f'/clients/{other.id}"' not in page
        assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    _, page = await b.get("/clients", params={"q": "没有这个人"})
    assert "没有找到符合的客户" in page

    status, page = await b.get(f"/clients/{x.id}")
    assert status == 200 and "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "13800138000" in page and "高净值" in page and "telegram:555" in page


async def test_an_edit_on_the_page_is_the_chat_command_changes_the_file_and_is_audited(
    console: ConsoleBot, browser: Browsers
) -> None:
    me = await console.add_account("zhangwei", "advisor")  # /client is for advisors too
    x = await on_file(console, "telegram:555", "Alice")
    b = await browser()
    await b.sign_in("zhangwei")
    path = f"/clients/{x.id}"

    _, page = await b.get(path)
    status, page, url = await b.post(path, {"action": "tier", "value": "vip"}, page=page)
    assert status == 200 and "done=" in url and "VIP" in page
    _, page, _ = await b.post(path, {"action": "tag_add", "value": "高净值"}, page=page)
    _, page, _ = await b.post(path, {"action": "phone", "value": "13800138000"}, page=page)
    _, page, _ = await b.post(path, {"action": "note", "value": "偏好电话联系\n下午"}, page=page)
    _, page, _ = await b.post(path, {"action": "phone", "value": "12345"}, page=page)
    assert "手机号" in page  # the chat's own refusal, shown on the page
    _, page, _ = await b.post(path, {"action": "email", "value": "li@Example.com"}, page=page)
    assert "邮箱</dt><dd>li@example.com" in page
    assert "短信推送</dt><dd>未表态" in page
    _, page, _ = await b.post(path, {"action": "sms", "value": "on"}, page=page)
    assert "短信推送</dt><dd>同意 (" in page and "工作人员登记" in page  # when and how

    async with console.app.db.read() as tx:
        file = await tx.files.get(x)
        audited = await tx.audit.recent("client.tier", limit=5)
    assert file.tier == "vip" and file.tags == ("高净值",) and file.phone == "13800138000"
    assert file.notes[0][1:] == (me.address, "偏好电话联系\n下午")
    assert [(r["actor"], r["action"]) for r in audited] == [(me.address, "client.tier")]
    assert "偏好电话联系" in page  # the note, on the page


async def test_forged_client_ids_are_not_found_and_an_erased_client_shows_only_that(
    console: ConsoleBot, browser: Browsers
) -> None:
    await console.add_account("li", "staff")
    gone = await on_file(console, "telegram:557", "Bob", phone="13700000000")
    async with console.app.db.write() as tx:
        await tx.clients.erase(gone.id)
    b = await browser()
    await b.sign_in("li")
    for path in ("/clients/999999", "/clients/abc", "/clients/1e3", "/clients/-1"):
        status, _ = await b.get(path)
        assert status == 404, path
    _, page = await b.get("/clients")
    status, _, _ = await b.post("/clients/999999", {"action": "tier", "value": "vip"}, page=page)
    assert status == 404
    status, page = await b.get(f"/clients/{gone.id}")
    assert status == 200 and "已按要求删除" in page and "13700000000" not in page
    _, page = await b.get("/clients", params={"q": "13700000000"})
    assert f'/clients/{gone.id}"' not in page


# --- FAQ ------------------------------------------------------------------------------------


async def test_the_faq_page_lists_the_shipped_knowledge_base_and_the_gaps(
    console: ConsoleBot, browser: Browsers
) -> None:
    await console.add_account("li", "staff")
    asked = await console.app.inbox.receive(
        text_event("console", "console:bob", "console:bob", "你们食堂几点开饭<i>?</i>")
    )
    assert asked is not None
    b = await browser()
    await b.sign_in("li")
    status, page = await b.get("/faq")
    assert status == 200 and "open-account" in page and "怎么开户?" in page
    assert "你们食堂几点开饭&lt;i&gt;" in page  # the gap, as text


async def test_trying_a_question_tells_the_outcome_and_records_nothing(
    console: ConsoleBot, browser: Browsers
) -> None:
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/faq")
    status, page, url = await b.post("/faq", {"action": "test", "text": "怎么开户"}, page=page)
    assert status == 200 and "done=" in url
    assert "会直接回答:open-account" in page, page
    _, page, _ = await b.post("/faq", {"action": "test", "text": "火星上能开分店吗"}, page=page)
    assert "没有把握回答" in page
    async with console.app.db.read() as tx:
        gaps = await tx.faq.unanswered_since(tx.now() - timedelta(days=1))
    assert gaps == []


async def test_staff_edit_an_entry_through_the_chat_steps_and_an_advisor_may_not(
    console: ConsoleBot, browser: Browsers
) -> None:
    staff = await console.add_account("li", "staff")
    await console.add_account("zhangwei", "advisor")
    edit = {"action": "edit", "id": "open-account", "field": "answer", "value": "请下载App开户。"}

    adviser = await browser()
    await adviser.sign_in("zhangwei")
    _, page = await adviser.get("/faq")
    assert 'value="edit"' not in page  # no forms for what the chat refuses them
    _, page, url = await adviser.post("/faq", edit, page=page)
    assert "done=" in url and "这个指令需要工作人员权限" in page  # the chat's refusal
    _, page, _ = await adviser.post("/faq", {"action": "test", "text": "怎么开户"}, page=page)
    assert "这个指令需要工作人员权限" in page and "会直接回答" not in page
    async with console.app.db.read() as tx:
        assert (await tx.faq.get("open-account")).answer != edit["value"]  # type: ignore[union-attr]

    b = await browser()
    await b.sign_in("li")
    _, page = await b.get("/faq")
    status, page, _ = await b.post("/faq", edit, page=page)
    assert status == 200 and "已保存问答" in page, page
    bad = {**edit, "id": "no-such-entry", "value": "这句不能变成客户的问题"}
    _, page, _ = await b.post("/faq", bad, page=page)
    assert "没有编号为 no-such-entry 的问答" in page
    promise = {**edit, "value": "保证月收益20%"}
    _, page, _ = await b.post("/faq", promise, page=page)
    assert "不允许的承诺用语" in page

    async with console.app.db.read() as tx:
        entry = await tx.faq.get("open-account")
        audited = await tx.audit.recent("faq.edit", limit=5)
        gaps = await tx.faq.unanswered_since(tx.now() - timedelta(days=1))
    assert entry is not None and entry.answer == "请下载App开户。"
    assert [(r["actor"], r["action"]) for r in audited] == [(staff.address, "faq.edit")]
    assert gaps == []  # no step was ever taken for a client's question

    new = {"action": "add", "question": "食堂几点开饭?", "variants": "几点吃饭\n午饭时间",
           "answer": "中午 12 点。", "category": "其他"}  # fmt: skip
    _, page, _ = await b.post("/faq", new, page=page)
    assert "已保存问答 custom-1" in page
    async with console.app.db.read() as tx:
        added = await tx.faq.get("custom-1")
    assert added is not None and added.variants == ("几点吃饭", "午饭时间")

    _, page, _ = await b.post("/faq", {"action": "del", "id": "open-account"}, page=page)
    assert "确定删除问答 open-account" in page
    data = re.search(r'name="data" value="(faqs:del:[^"]+)"', page)
    assert data is not None
    await b.post(
        "/press",
        {"data": data.group(1), "back": console.settings.staff_console.path + "/faq"},
        page=page,
    )
    async with console.app.db.read() as tx:
        assert await tx.faq.get("open-account") is None


async def test_staff_teach_a_gap_mark_one_not_ours_and_adopt_a_clients_wording(
    console: ConsoleBot, browser: Browsers
) -> None:
    for text in ("客服小姐姐周六周日也在线吗", "你们食堂几点开饭"):
        await console.app.inbox.receive(text_event("console", "console:bob", "console:bob", text))
    async with console.app.db.write() as tx:
        gaps = {g.text: g.id for g in await tx.faq.unanswered_since(tx.now() - timedelta(days=1))}
        await tx.faq_learning.add("variant", "钱多久能到卡上", entry_id="withdraw", message_id=None)
        [proposal] = await tx.faq_learning.pending()
    b = await signed_in(console, browser, "li", "staff")
    _, page = await b.get("/faq")
    assert "钱多久能到卡上" in page and 'value="adopt"' in page
    teach = {
        "action": "teach",
        "ref": str(gaps["客服小姐姐周六周日也在线吗"]),
        "id": "office-address-hours",
    }
    _, page, _ = await b.post("/faq", teach, page=page)
    data = re.search(r'name="data" value="(faqs:teach:[^"]+)"', page)
    assert data is not None, page
    _, page, _ = await b.post(
        "/press", {"data": data.group(1), "back": console.settings.staff_console.path + "/faq"},
        page=page,
    )  # fmt: skip
    _, page, _ = await b.post(
        "/faq", {"action": "notours", "ref": str(gaps["你们食堂几点开饭"])}, page=page
    )
    assert "不属于知识库" in page
    _, page, _ = await b.post("/faq", {"action": "adopt", "ref": str(proposal.id)}, page=page)
    assert "已把“钱多久能到卡上”加为问答 withdraw 的问法" in page
    async with console.app.db.read() as tx:
        hours = await tx.faq.get("office-address-hours")
        withdraw = await tx.faq.get("withdraw")
        left = await tx.faq.unanswered_since(tx.now() - timedelta(days=1))
        _, outside = await tx.faq_learning.for_training()
    assert hours is not None and "客服小姐姐周六周日也在线吗" in hours.variants
    assert withdraw is not None and "钱多久能到卡上" in withdraw.variants
    assert left == [] and outside == ["你们食堂几点开饭"]


async def test_the_service_flow_is_marked_on_the_client_page_and_listed_on_the_board(
    console: ConsoleBot, browser: Browsers
) -> None:
    await console.add_account("zhangwei", "advisor")
    x = await on_file(console, "telegram:555", "Alice")
    b = await browser()
    await b.sign_in("zhangwei")
    path = f"/clients/{x.id}"
    _, page = await b.get(path)
    assert "服务流程" in page and "已开户,开始流程" in page
    _, page, _ = await b.post(f"{path}/flow", {"action": "open"}, page=page)
    assert "✅ 公司开户" in page
    _, page, _ = await b.post(
        f"{path}/flow", {"step": "custody", "action": "done", "reason": ""}, page=page
    )
    assert "✅ 银行三方托管" in page
    _, page, _ = await b.post(f"{path}/flow", {"step": "coaching", "action": "skip"}, page=page)
    assert "请写明原因" in page  # the chat's own answer, on the page
    _, board = await b.get("/onboarding")
    assert f"#{x.id} Alice" in board and "软件下载及使用指导" in board
    async with console.app.db.read() as tx:
        flow = await tx.onboarding.of(x.id)
    assert set(flow.steps) == {"opened", "custody"}
