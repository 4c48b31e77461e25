"""Knowledge-base files: every problem is named with its line and field, and nothing bad loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.faq.index_cache import DEFAULT_KB
from handlers.faq.kb_file import KbFileError, parse_csv, parse_yaml, read_file, to_csv, to_yaml

GOOD = """\
- id: annual-meeting
  language: zh
  category: 公司活动
  question: 公司年会什么时候开?
  variants: [年会几号, 年会时间]
  answer: 年会一般在每年一月举行,具体以公司通知为准。
- id: annual-meeting-en
  language: en
  question: When is the annual meeting?
  answer: Usually in January; see the official notice.
"""


def problems(text: str, parse=parse_yaml) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(KbFileError) as caught:
        parse(text, "kb.yaml")
    return [str(p) for p in caught.value.problems]


def test_good_yaml() -> None:
    entries = parse_yaml(GOOD)
    assert [e.id for e in entries] == ["annual-meeting", "annual-meeting-en"]
    assert entries[1].category == "Other" and entries[0].variants == ("年会几号", "年会时间")


def test_duplicate_id_names_both_lines() -> None:
    text = GOOD + GOOD.split("- id: annual-meeting-en")[0]
    assert problems(text) == ["line 11: id: duplicate id 'annual-meeting' (first at line 1)"]


def test_missing_answer_and_bad_fields_all_reported() -> None:
    text = "- id: Bad Id\n  language: fr\n  question: q\n- id: ok\n  question: q\n  answer: ''\n"
    assert problems(text) == [
        "line 1: id: 'Bad Id' must be lower-case letters, digits, '.', '_' or '-'",
        "line 2: language: must be zh or en (got 'fr')",
        "line 1: answer: missing",
        "line 6: answer: missing",
    ]


def test_promises_of_returns_are_refused() -> None:
    text = "- id: x\n  question: q\n  answer: 跟着我们操作稳赚不赔\n"
    assert "promises returns" in problems(text)[0]


def test_broken_yaml_names_the_line() -> None:
    [problem] = problems("- id: x\n  question: [unclosed\n  answer: a\n")
    assert problem.startswith("line 3: yaml: broken YAML")


def test_not_a_list() -> None:
    assert problems("id: x\n") == ["line 1: yaml: expected a list of entries"]


def test_gbk_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(KbFileError) as caught:
        read_file(path)
    assert "GBK" in str(caught.value) and "UTF-8" in str(caught.value)


@pytest.mark.parametrize("dump,parse", [(to_csv, parse_csv), (to_yaml, parse_yaml)])
def test_round_trip(dump, parse) -> None:  # type: ignore[no-untyped-def]
    entries = read_file(DEFAULT_KB)
    assert parse(dump(entries)) == entries


def test_csv_missing_column() -> None:
    assert problems("id,question\nx,q\n", parse_csv) == [
        "line 1: answer: column missing from the header"
    ]


def entry(**fields: str) -> str:
    """One YAML entry, good unless the fields say otherwise; a value may span lines."""
    base = {"id": "x", "question": "q", "answer": "a"}
    return "- " + "\n  ".join(f"{k}: {v}" for k, v in {**base, **fields}.items()) + "\n"


def test_every_field_is_screened_for_promises() -> None:
    text = entry(
        category="稳赚专区",
        question="保證收益嗎",
        variants="\n    - 开户\n    - 穩 賺",
        answer="RISK-FREE",
    )
    assert problems(text) == [
        "line 2: question: promises returns (保证收益); not allowed",
        "line 4: category: promises returns (稳赚); not allowed",
        "line 7: variants: promises returns (稳赚); not allowed",
        "line 3: answer: promises returns (risk-free); not allowed",
    ]


def test_compliance_entries_may_quote_the_promise_they_refuse() -> None:
    text = entry(
        tags="[合规]", variants="[保证盈利吗, guarantee profits]", answer="不能,我们不承诺收益。"
    )
    assert parse_yaml(text)[0].variants == ("保证盈利吗", "guarantee profits")
    assert problems(entry(tags="[Compliance]", answer="稳赚")) == [
        "line 3: answer: promises returns (稳赚); not allowed"
    ]
    assert problems(entry(tags="[合规]", question="保证盈利"))[0].startswith("line 2: question:")


def test_return_figures_are_refused() -> None:
    assert problems(entry(answer="跟着老师月收益20%")) == [
        "line 3: answer: promises returns (月收益20%); not allowed"
    ]


def test_unknown_key_is_named_with_the_allowed_ones() -> None:
    [problem] = problems(entry(varaints="[a, b]"))
    assert problem.startswith("line 4: varaints: unknown key 'varaints'; allowed: id, language")
    assert "variants" in problem and "buttons" in problem


def test_duplicate_keys_are_refused() -> None:
    text = entry(buttons="\n    - {label: a, command: /help, label: b}") + "  answer: b\n"
    assert problems(text) == [
        "line 5: buttons: duplicate key 'label' (first at line 5)",
        "line 6: answer: duplicate key 'answer' (first at line 3)",
    ]


def test_unknown_and_duplicate_csv_columns() -> None:
    text = "id,question,answer,varaints,tags,tags\nx,q,a,b,t,t\ny,q,稳赚,,,\n"
    assert problems(text, parse_csv) == [
        "line 1: varaints: unknown key 'varaints'; allowed: "
        "id, language, category, question, variants, answer, tags, enabled, buttons",
        "line 1: tags: column appears twice in the header",
        "line 3: answer: promises returns (稳赚); not allowed",
    ]


@pytest.mark.parametrize(
    "word,enabled",
    [("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("on", True),
     ("OFF", False), ("1", True), ("0", False), ("是", True), ("否", False),
     ("启用", True), ("停用", False), ("", True)],
)  # fmt: skip
def test_csv_enabled_words(word: str, enabled: bool) -> None:
    [parsed] = parse_csv(f"id,question,answer,enabled\nx,q,a,{word}\n")
    assert parsed.enabled is enabled


@pytest.mark.parametrize("word", ["maybe", "n", "2", "半开"])
def test_csv_enabled_other_words_are_refused(word: str) -> None:
    [problem] = problems(f"id,question,answer,enabled\nx,q,a,{word}\n", parse_csv)
    assert problem.startswith("line 2: enabled: must be true or false")


@pytest.mark.parametrize(
    "value,enabled", [("false", False), ("no", False), ("'停用'", False), ("'On'", True)]
)
def test_yaml_enabled_booleans_and_words(value: str, enabled: bool) -> None:
    assert parse_yaml(entry(enabled=value))[0].enabled is enabled


@pytest.mark.parametrize("value", ["1", "maybe", "[true]", "null"])
def test_yaml_enabled_anything_else_is_refused(value: str) -> None:
    [problem] = problems(entry(enabled=value))
    assert problem.startswith("line 4: enabled: must be true or false")


def buttons(*specs: str) -> str:
    return entry(buttons="".join(f"\n    - {s}" for s in specs))


def test_good_buttons() -> None:
    [parsed] = parse_yaml(
        buttons(
            "{label: 官网, url: 'https://example.com/a?b=1'}",
            "{label: Channel, url: 'tg://resolve?domain=example'}",
            "{label: 订阅培训邀请, command: /subscribe training}",
            "{label: 查看指令, command: /help}",
        )
    )
    assert parsed.buttons[2] == {"label": "订阅培训邀请", "command": "/subscribe training"}


@pytest.mark.parametrize(
    "spec,message",
    [
        ("{label: a, url: 'ftp://example.com'}", "url must start with http://, https:// or tg://"),
        ("{label: a, url: 'javascript:alert(1)'}", "url must start with http://"),
        ("{label: a, url: example.com}", "url must start with http://"),
        ("{label: a, command: help}", "command must be one /command"),
        ("{label: a, command: /help /start}", "must be a single /command"),
        ('{label: a, command: "/help\\n/start"}', "command must be on one line"),
        ("{label: a, command: /subscribe " + "训" * 20 + "}", "longer than 60 bytes"),
        ("{label: a, command: /help, url: 'https://example.com'}", "exactly one of url"),
        ("{label: a}", "exactly one of url or command"),
        ("{command: /help}", "label missing"),
        ("{label: '', command: /help}", "label missing"),
        ("{label: " + "长" * 41 + ", command: /help}", "label longer than 40 characters"),
        ("{label: 稳赚课程, command: /help}", "label promises returns (稳赚)"),
        ("{label: a, command: /help, data: x}", "unknown key 'data'"),
        ("just text", "must be a mapping"),
    ],
)
def test_bad_buttons(spec: str, message: str) -> None:
    found = problems(buttons("{label: ok, command: /help}", spec))
    assert found and all(p.startswith("line 6: buttons: button 2: ") for p in found)
    assert any(message in p for p in found), found


def test_command_of_exactly_60_bytes_is_allowed() -> None:
    command = "/subscribe " + "x" * 49
    assert len(command.encode()) == 60
    assert parse_yaml(buttons(f"{{label: a, command: {command}}}"))[0].buttons


def test_csv_buttons_are_checked() -> None:
    text = 'id,question,answer,buttons\nx,q,a,"[{""label"": ""a"", ""url"": ""http:/x""}]"\n'
    assert problems(text, parse_csv) == [
        "line 2: buttons: button 1: url must start with http://, https:// or tg:// "
        "and contain no spaces"
    ]
    assert "must be JSON" in problems("id,question,answer,buttons\nx,q,a,[oops\n", parse_csv)[0]


def test_long_question_and_variant_are_refused() -> None:
    text = entry(question="问" * 501, variants=f"\n    - ok\n    - {'长' * 501}")
    assert problems(text) == [
        "line 2: question: longer than 500 characters",
        "line 6: variants: variant 2 longer than 500 characters",
    ]
    assert parse_yaml(entry(question="问" * 500))[0].question == "问" * 500


def test_unsafe_yaml_tag_is_a_problem_not_a_crash() -> None:
    [problem] = problems(entry(answer="!!python/object/apply:os.system [ls]"))
    assert problem.startswith("line 3: yaml: broken YAML")


def test_all_problems_of_all_entries_together() -> None:
    text = entry(varaints="[a]") + entry(id="y", enabled="maybe", answer="稳赚")
    assert [p.split(":")[1].strip() for p in problems(text)] == ["varaints", "answer", "enabled"]


def test_shipped_knowledge_base_loads() -> None:
    entries = read_file(DEFAULT_KB)
    assert len(entries) > 50 and all(e.enabled for e in entries)
    assert any(e.buttons for e in entries)
