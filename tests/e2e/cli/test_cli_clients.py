"""`clients import|export` and `report complaints|consultations` as an operator runs them:
all-or-nothing imports whose errors name the line and column, idempotent re-imports,
GBK lists, and the monthly forms."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.cli import main
from storage.database import Database

HEADER = "address,name,language,phone,tier,tags,topics,advisor\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "STAFF_CHAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOT_ADMINS", "console:local")
    return tmp_path


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


async def _count(url: str) -> tuple[int, list[str]]:
    db = Database(url)
    try:
        async with db.read() as tx:
            client = await tx.clients.by_address("telegram:1001")
            subs = await tx.subscriptions.of(client.id) if client else []
            rows = (await tx.conn.execute(sa.text("select count(*) from clients"))).scalar()
        return int(rows), subs
    finally:
        await db.close()


def counts(env: Path) -> tuple[int, list[str]]:
    return asyncio.run(_count(f"sqlite:///{env / 'bot.db'}"))


def test_import_export_and_reimport(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "-m", "/grant console:adv1 advisor"]) == 0
    good = write(
        env / "list.csv",
        HEADER
        + "telegram:1001,张三,zh,138 1234 5678,vip,黄金;老客户,morning;news,console:adv1\n"
        + "telegram:1002,李四,,,,,,\n",
    )
    capsys.readouterr()
    assert main(["clients", "import", str(good)]) == 0
    assert "2 new" in capsys.readouterr().out
    assert main(["clients", "import", str(good)]) == 0
    assert "0 new, 2 updated" in capsys.readouterr().out
    before, subs = counts(env)
    assert subs == ["morning", "news"]
    assert main(["clients", "export"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    [zhang] = [r for r in rows if r["address"] == "telegram:1001"]
    assert zhang == {
        "address": "telegram:1001",
        "name": "张三",
        "language": "zh",
        "phone": "13812345678",
        "tier": "vip",
        "tags": "老客户;黄金",
        "topics": "morning;news",
        "advisor": "console:adv1",
        "links": "",
        "sms_consent": "",
        "stage": "",
    }
    changed = write(env / "again.csv", HEADER + "telegram:1001,张三,zh,,,,risk,\n")
    assert main(["clients", "import", str(changed)]) == 0
    after, subs = counts(env)
    assert after == before and subs == ["risk"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("telegram:1001,张三,zh,12345,,,,\n", "line 3, column phone"),
        ("telegram:1001,张三,zh,,gold,,,\n", "line 3, column tier"),
        ("telegram:1001,张三,zh,,,,nosuch,\n", "line 3, column topics: unknown topic 'nosuch'"),
        ("telegram:1001,张三,zh,,,,,telegram:77\n", "line 3, column advisor"),
        ("telegram:1001,张三,zh,,,,,\ntelegram:01001,张三,zh,,,,,\n", "line 4, column address"),
        ("wechat:has space,a,zh,,,,,\n", "line 3, column address"),
        ("telegram:1001,张三,fr,,,,,\n", "line 3, column language"),
        ("telegram:1001,张三,zh,,,,,,extra\n", "line 3: more fields"),
        ('telegram:1001,"张三,zh,,,,,\ntelegram:1002,李四,zh,,,,,\n', "line 3, column name"),
        ("telegram:-100123,群,zh,,,,,\n", "line 3, column address: telegram:-100123 is a group"),
        ("telegram:1001,张三,zh,,,<b>x</b>,,\n", "line 3, column tags"),
    ],
)
def test_a_bad_row_imports_nothing_and_is_named(
    env: Path, capsys: pytest.CaptureFixture[str], body: str, problem: str
) -> None:
    """A good row on line 2, the bad one after it, another good one last: none are kept."""
    good = "telegram:2000,王五,zh,,,,,\n"
    path = write(env / "bad.csv", HEADER + good + body + good.replace("2000", "2001"))
    assert main(["clients", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert problem in err and "nothing was imported" in err
    assert counts(env)[0] == 0


LINKED = "address,name,links\n"


def client_of(env: Path, *addresses: str) -> list[int | None]:
    """The client id behind each address (None where it is on nobody's file)."""

    async def look() -> list[int | None]:
        db = Database(f"sqlite:///{env / 'bot.db'}")
        try:
            async with db.read() as tx:
                found = [await tx.clients.by_address(a) for a in addresses]
            return [c.id if c else None for c in found]
        finally:
            await db.close()

    return asyncio.run(look())


def test_links_join_the_lines_client_and_reimport_changes_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        env / "linked.csv",
        LINKED + "telegram:1001,张三,wechat:o_zhang；QQ:0500\ntelegram:1002,李四,\n",
    )
    for _ in range(2):
        assert main(["clients", "import", str(path)]) == 0
    assert "0 new, 2 updated" in capsys.readouterr().out
    zhang, wechat, qq, li = client_of(
        env, "telegram:1001", "wechat:o_zhang", "qq:500", "telegram:1002"
    )
    assert zhang is not None and zhang == wechat == qq and li not in (None, zhang)
    assert counts(env)[0] == 2


def test_a_link_on_another_clients_file_imports_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(env / "first.csv", LINKED + "telegram:1001,张三,\ntelegram:1002,李四,\n")
    assert main(["clients", "import", str(env / "first.csv")]) == 0
    zhang, li = client_of(env, "telegram:1001", "telegram:1002")
    body = "telegram:2000,王五,\ntelegram:1001,张三,qq:9;telegram:1002\n"
    assert main(["clients", "import", str(write(env / "bad.csv", LINKED + body))]) == 2
    err = capsys.readouterr().err
    assert f"line 3, column links: telegram:1002 is client #{li}'s address" in err
    assert f"not client #{zhang}'s (telegram:1001)" in err and "nothing was imported" in err
    assert "clients merge telegram:1001 telegram:1002" in err
    assert client_of(env, "telegram:2000", "qq:9", "telegram:1002") == [None, None, li]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("telegram:1001,张三,qq:9\ntelegram:1002,李四,qq:9\n", "line 3, column links: qq:9 is "
         "also on line 2"),
        ("telegram:1001,张三,telegram:1002\ntelegram:1002,李四,\n", "line 3, column address: "
         "telegram:1002 is also on line 2"),
        ("telegram:1001,张三,qq:09;wechat:a b\n", "line 2, column links: 'wechat:a b' is not"),
        ("telegram:1001,张三,telegram:-1009\n", "line 2, column links: telegram:-1009 is a group"),
    ],
)  # fmt: skip
def test_one_address_one_client_within_the_file(
    env: Path, capsys: pytest.CaptureFixture[str], body: str, problem: str
) -> None:
    assert main(["clients", "import", str(write(env / "bad.csv", LINKED + body))]) == 2
    err = capsys.readouterr().err
    assert problem in err and "nothing was imported" in err
    assert counts(env)[0] == 0


def test_an_exported_list_imports_into_a_fresh_database_as_it_was(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = (
        "address,name,tier,tags,links\n"
        "wechat:o_zhang,张三,vip,黄金,telegram:1001;qq:500\n"
        "telegram:1002,李四,,,\n"
    )
    assert main(["clients", "import", str(write(env / "list.csv", listing))]) == 0
    assert main(["chat", "--user", "zhao", "-m", "/start"]) == 0  # a client who wrote first
    capsys.readouterr()
    assert main(["clients", "link", "console:zhao", "telegram:1003"]) == 0
    assert main(["clients", "export", "-o", str(env / "out.csv")]) == 0
    assert "exported 3 clients" in capsys.readouterr().err
    exported = (env / "out.csv").read_text(encoding="utf-8-sig")
    rows = {r["address"]: r["links"] for r in csv.DictReader(io.StringIO(exported))}
    assert rows == {
        "wechat:o_zhang": "qq:500;telegram:1001",
        "telegram:1002": "",
        "console:zhao": "telegram:1003",
    }
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{env / 'fresh.db'}")
    assert main(["clients", "import", str(env / "out.csv")]) == 0
    assert "3 new" in capsys.readouterr().out
    assert main(["clients", "export", "-o", str(env / "again.csv")]) == 0
    assert (env / "again.csv").read_text(encoding="utf-8-sig") == exported


CONSENTED = "address,phone,sms_consent\n"


async def _consents(url: str) -> dict[str, tuple[bool | None, str | None]]:
    db = Database(url)
    try:
        async with db.read() as tx:
            found = {}
            for address in ("telegram:1001", "telegram:1002", "telegram:1003", "telegram:1004"):
                client = await tx.clients.by_address(address)
                if client is not None:
                    consent = await tx.sms.consent(client.id)
                    found[address] = (consent.consented, consent.source)
            return found
    finally:
        await db.close()


def consents(env: Path) -> dict[str, tuple[bool | None, str | None]]:
    return asyncio.run(_consents(f"sqlite:///{env / 'bot.db'}"))


def test_sms_consent_is_imported_and_exported(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = (
        CONSENTED
        + "telegram:1001,13912345678,是\n"
        + "telegram:1002,13912345679,No\n"
        + "telegram:1003,,\n"
        + "telegram:1004,13912345670,1\n"
    )
    assert main(["clients", "import", str(write(env / "list.csv", listing))]) == 0
    assert consents(env) == {
        "telegram:1001": (True, "import"),
        "telegram:1002": (False, "import"),
        "telegram:1003": (None, None),
        "telegram:1004": (True, "import"),
    }
    capsys.readouterr()
    assert main(["clients", "export"]) == 0
    rows = {
        r["address"]: r["sms_consent"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))
    }
    assert rows == {
        "telegram:1001": "yes", "telegram:1002": "no", "telegram:1003": "", "telegram:1004": "yes"
    }  # fmt: skip

    # A newer list changes what an import recorded; an empty cell keeps it.
    again = CONSENTED + "telegram:1001,,\ntelegram:1002,,yes\ntelegram:1004,,0\n"
    assert main(["clients", "import", str(write(env / "again.csv", again))]) == 0
    assert consents(env)["telegram:1001"] == (True, "import")
    assert consents(env)["telegram:1002"] == (True, "import")
    assert consents(env)["telegram:1004"] == (False, "import")


def test_a_clients_own_word_on_sms_outlasts_an_old_list(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = CONSENTED + "telegram:1001,13912345678,yes\n"
    assert main(["clients", "import", str(write(env / "list.csv", listing))]) == 0
    assert main(["chat", "-m", "/sms off telegram:1001"]) == 0  # staff record the client's no
    assert main(["clients", "import", str(env / "list.csv")]) == 0
    assert consents(env)["telegram:1001"] == (False, "staff")


@pytest.mark.parametrize("value", ["maybe", "y", "2", "同意吧"])
def test_an_unknown_consent_value_is_named_by_line_and_column(
    env: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    listing = CONSENTED + "telegram:1001,13912345678,yes\n" + f"telegram:1002,,{value}\n"
    assert main(["clients", "import", str(write(env / "list.csv", listing))]) == 2
    err = capsys.readouterr().err
    assert f"line 3, column sms_consent: {value!r} is not yes, no, 是, 否, 1 or 0" in err
    assert "nothing was imported" in err
    assert counts(env)[0] == 0


@pytest.mark.dated  # the report's month is today's
def test_a_list_places_clients_at_their_step_of_the_service_flow(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = "address,stage\ntelegram:1001,银行三方托管\ntelegram:1002,5\ntelegram:1003,\n"
    assert main(["clients", "import", str(write(env / "list.csv", listing))]) == 0
    capsys.readouterr()
    assert main(["clients", "export"]) == 0
    rows = {r["address"]: r["stage"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows == {"telegram:1001": "custody", "telegram:1002": "advisor", "telegram:1003": ""}
    month = dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    assert main(["report", "onboarding", "--month", month]) == 0
    report = capsys.readouterr().out
    assert "本期开户 2 位" in report and "2. 银行三方托管:完成 1" in report
    assert "5. 客户分配:完成 0" in report and "4. 交易前的辅导:完成 1" in report
    bad = "address,stage\ntelegram:1004,开户以后\n"
    assert main(["clients", "import", str(write(env / "bad.csv", bad))]) == 2
    assert "line 2, column stage: '开户以后' is not a step of the flow" in capsys.readouterr().err


def audited(env: Path, actor: str) -> list[tuple[str, dict[str, object]]]:
    async def look() -> list[tuple[str, dict[str, object]]]:
        db = Database(f"sqlite:///{env / 'bot.db'}")
        try:
            async with db.read() as tx:
                rows = await tx.audit.recent(limit=20)
            return [(r["action"], r["detail"]) for r in reversed(rows) if r["actor"] == actor]
        finally:
            await db.close()

    return asyncio.run(look())


def test_link_unlink_and_merge_from_the_terminal(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for advisor in ("adv1", "adv2"):
        assert main(["chat", "-m", f"/grant console:{advisor} advisor"]) == 0
    listing = (
        "address,name,tier,advisor\n"
        "telegram:1001,张三,vip,console:adv1\ntelegram:1002,李四,,console:adv2\n"
    )
    assert main(["clients", "import", str(write(env / "list.csv", listing))]) == 0
    zhang, li = client_of(env, "telegram:1001", "telegram:1002")
    capsys.readouterr()

    def refused(*args: str) -> str:
        assert main(["clients", *args]) == 2
        return capsys.readouterr().err

    assert main(["clients", "link", "telegram:1001", "QQ:0500"]) == 0
    assert f"qq:500 joined client #{zhang}'s file" in capsys.readouterr().out
    assert client_of(env, "qq:500") == [zhang]
    assert main(["clients", "link", "telegram:1001", "qq:500"]) == 0  # again: nothing to do
    assert "qq:500 was already on" in capsys.readouterr().out
    err = refused("link", "telegram:1001", "telegram:1002")
    assert f"telegram:1002 is already client #{li}'s address, not #{zhang}'s" in err
    assert "clients merge telegram:1001 telegram:1002" in err
    assert client_of(env, "telegram:1002") == [li]
    assert "telegram:9 is on no client's file" in refused("link", "telegram:9", "qq:1")
    assert "group chat" in refused("link", "telegram:1001", "telegram:-1001")

    assert main(["clients", "unlink", "qq:500"]) == 0
    assert client_of(env, "qq:500") == [None]
    assert f"client #{li}'s only address" in refused("unlink", "telegram:1002")
    assert "qq:500 is on no client's file" in refused("unlink", "qq:500")

    assert "names no client" in refused("merge", "telegram:1002", "999")
    assert f"both client #{zhang}" in refused("merge", str(zhang), "telegram:1001")
    capsys.readouterr()
    assert main(["clients", "merge", "telegram:1002", str(zhang)]) == 0
    out = capsys.readouterr().out
    assert f"client #{li} merged into #{zhang}" in out and "moved to" in out
    assert f"differed: advisor: kept console:adv1, #{li} had console:adv2" in out
    assert client_of(env, "telegram:1001", "telegram:1002") == [zhang, zhang]
    assert counts(env)[0] == 2  # the admin (who granted) and the one client left

    assert audited(env, "cli") == [
        ("client.link", {"client_id": zhang, "address": "qq:500"}),
        ("client.unlink", {"client_id": zhang, "address": "qq:500"}),
        ("client.merge", {"client_id": zhang, "gone": li, "addresses": ["telegram:1002"],
                          "conflicts": {"advisor": ["console:adv1", "console:adv2"]}}),
    ]  # fmt: skip
    assert main(["clients", "export"]) == 0
    [row] = [r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["name"] == "张三"]
    assert (row["address"], row["links"]) == ("telegram:1001", "telegram:1002")


def test_a_gbk_list_is_refused_with_advice_and_read_when_told(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(env / "gbk.csv", "address,name\ntelegram:1001,张三\n", encoding="gbk")
    assert main(["clients", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "--encoding gbk" in err
    assert counts(env)[0] == 0
    assert main(["clients", "import", str(path), "--encoding", "gbk"]) == 0
    assert counts(env)[0] == 1


def test_monthly_forms(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for user, message in (
        ("local", "/grant console:adv1 advisor"),
        ("adv1", "/duty on"),
        ("alice", "/advisor"),
        ("alice", "白银T+D夜盘几点开始"),
    ):
        assert main(["chat", "--user", user, "-m", message]) == 0
    out = capsys.readouterr().out
    number = out.split("编号 ")[1].split(",")[0]
    assert main(["chat", "--user", "adv1", "-m", f"/reply {number} 晚上八点开始"]) == 0
    capsys.readouterr()
    month = number.split("-")[1][:4] + "-" + number.split("-")[1][4:6]
    assert main(["report", "consultations", "--month", month, "--format", "json"]) == 0
    [form] = json.loads(capsys.readouterr().out)
    assert form["number"] == number and form["question"] == "白银T+D夜盘几点开始"
    assert form["handled_by"] == "console:adv1" and form["answer"] == "晚上八点开始"
    assert form["answered_at"]
    assert main(["report", "complaints", "--month", month]) == 0
    assert capsys.readouterr().out.startswith("number,time,client,category,content")


def test_an_undecodable_line_is_named_exactly(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [f"telegram:{5000 + i},客户{i}\n".encode() for i in range(1498)]
    path = env / "late.csv"
    path.write_bytes(b"address,name\n" + b"".join(lines) + "telegram:9,张三\n".encode("gbk"))
    assert main(["clients", "import", str(path)]) == 2
    assert "line 1500: the file is not UTF-8" in capsys.readouterr().err


def test_exported_names_never_run_as_formulas(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(env / "f.csv", 'address,name\ntelegram:1001,"=HYPERLINK(""http://x"")"\n')
    assert main(["clients", "import", str(path)]) == 0
    capsys.readouterr()
    assert main(["clients", "export"]) == 0
    [row] = [
        r
        for r in csv.DictReader(io.StringIO(capsys.readouterr().out))
        if r["address"] == "telegram:1001"
    ]
    assert row["name"] == '\'=HYPERLINK("http://x")'


def test_the_desk_over_console_processes(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each `chat` run is its own process: a notice waits for the advisor's next run."""

    def say(user: str, text: str) -> str:
        capsys.readouterr()
        assert main(["chat", "--user", user, "-m", text]) == 0
        return capsys.readouterr().out

    say("local", "/grant console:advisor1 advisor")
    say("advisor1", "/duty on")
    assert "1. 服务态度" in say("alice", "投诉")
    for step in ("1", "客服态度很差", "1", "1"):  # category, text, done, reach me here
        say("alice", step)
    ack = say("alice", "1")  # submit
    number = ack.split("编号 ")[1].split(",")[0]
    notice = say("advisor1", "/tickets")
    assert notice.count(number) == 2, "the notice, then the list"
    say("advisor1", f"/reply {number} 非常抱歉,我们会加强培训。")
    assert "加强培训" in say("alice", "/tickets")
