"""Knowledge-base files: YAML or CSV in, YAML or CSV out, with errors that name line and field.

A file is checked completely before anything is written, so an import is all or nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import Any

import yaml

from bot.core.compliance import forbidden_in
from storage.records import FaqEntry

# Ids ride in button data (64 bytes on Telegram), so they stay short.
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
LANGUAGES = ("zh", "en")
CSV_FIELDS = (
    "id", "language", "category", "question", "variants", "answer", "tags", "enabled", "buttons",
)  # fmt: skip
FIELDS = CSV_FIELDS
LIST_SEP = "|"
MAX_ANSWER = 3000
MAX_PHRASING = 500  # a question or variant
MAX_CATEGORY = 100
MAX_LABEL = 40
# A command travels as button data "cmd:<command>", within Telegram's 64 bytes.
MAX_COMMAND_BYTES = 60
BUTTON_KEYS = ("label", "url", "command")
URL_RE = re.compile(r"^(?:https?|tg)://\S+$")  # Telegram refuses other schemes
COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?(?: +\S.*)?$")
# The one list of words for on and off: files and the staff chat read the same ones.
TRUE_WORDS = ("true", "yes", "on", "1", "enable", "enabled", "是", "启用", "开启")
FALSE_WORDS = ("false", "no", "off", "0", "disable", "disabled", "否", "停用", "关闭")
# Entries with one of these tags answer clients who ask for promises; their variants may
# quote the promise being refused (保证盈利吗). Question, category and answer are screened.
COMPLIANCE_TAGS = {"合规", "compliance"}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class KbFileError(Exception):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = "it looks like GBK/GB18030; " if _is_gbk(raw) else ""
        message = f"not UTF-8 ({hint}save the file as UTF-8 and import again)"
        raise KbFileError(source, [Problem(line, "encoding", message)]) from None


def _is_gbk(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def read_file(path: Path) -> list[FaqEntry]:
    raw = path.read_bytes()
    text = decode(raw, str(path))
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str = "<yaml>") -> list[FaqEntry]:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise KbFileError(source, [_yaml_problem(exc)]) from None
        if root is None:
            return []
        if not isinstance(root, yaml.SequenceNode):
            raise KbFileError(source, [Problem(1, "yaml", "expected a list of entries")])
        rows = []
        for node in root.value:
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                rows.append(_Row(line, {}, {"entry": line}))
                continue
            row = _Row(line, {}, {str(k.value): k.start_mark.line + 1 for k, _ in node.value})
            row.problems.extend(_duplicate_keys(node))
            for key, value in node.value:
                if key.value in ("variants", "buttons") and isinstance(value, yaml.SequenceNode):
                    row.items[key.value] = [item.start_mark.line + 1 for item in value.value]
            try:
                row.data = loader.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                row.problems.append(_yaml_problem(exc))
                row.data = None
            rows.append(row)
    finally:
        loader.dispose()
    return _validate(rows, source)


def _yaml_problem(exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return Problem(line, "yaml", f"broken YAML: {problem}")


def _duplicate_keys(entry: yaml.MappingNode) -> list[Problem]:
    """PyYAML keeps the last of two equal keys; a file that says a thing twice is refused."""
    problems = []

    def walk(node: yaml.Node, field: str | None) -> None:
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
                line = key.start_mark.line + 1
                if name is not None and name != "<<":
                    if name in first:
                        message = f"duplicate key {name!r} (first at line {first[name]})"
                        problems.append(Problem(line, field or name, message))
                    else:
                        first[name] = line
                walk(value, field or name or "entry")
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, field)

    walk(entry, None)
    return problems


def parse_csv(text: str, source: str = "<csv>") -> list[FaqEntry]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() if h else "" for h in reader.fieldnames or []]
    reader.fieldnames = header
    header_problems = [
        Problem(1, f, "column missing from the header")
        for f in ("id", "question", "answer")
        if f not in header
    ]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            header_problems.append(Problem(1, name, "column appears twice in the header"))
        elif name not in FIELDS:
            header_problems.append(Problem(1, name or "header", _unknown_key(name)))
        seen.add(name)
    if any(p.message == "column missing from the header" for p in header_problems):
        raise KbFileError(source, header_problems)
    rows = []
    for record in reader:
        row = _Row(reader.line_num, {})
        if None in record:
            row.problems.append(Problem(row.line, "entry", "more cells than the header has"))
        data: dict[str, Any] = {
            k: v for k, v in record.items() if k in FIELDS and v not in (None, "")
        }
        for key in ("variants", "tags"):
            if key in data:
                data[key] = [v.strip() for v in data[key].split(LIST_SEP) if v.strip()]
        if "enabled" in data:
            data["enabled"] = data["enabled"].strip()
        if "buttons" in data:  # JSON, e.g. [{"label": "管理订阅", "command": "/topics"}]
            try:
                data["buttons"] = json.loads(data["buttons"])
            except ValueError:
                message = 'must be JSON, e.g. [{"label": "管理订阅", "command": "/topics"}]'
                row.problems.append(Problem(row.line, "buttons", message))
                del data["buttons"]
        row.data = data
        rows.append(row)
    return _validate(rows, source, header_problems)


@dataclass(slots=True)
class _Row:
    line: int  # where the entry starts (YAML) or ends (CSV)
    data: Any
    lines: dict[str, int] = _field(default_factory=dict)  # YAML: line of each key
    items: dict[str, list[int]] = _field(default_factory=dict)  # YAML: line of each list item
    problems: list[Problem] = _field(default_factory=list)  # found while reading


def _unknown_key(key: str) -> str:
    return f"unknown key {key!r}; allowed: {', '.join(FIELDS)}"


def _validate(rows: list[_Row], source: str, found: list[Problem] | None = None) -> list[FaqEntry]:
    problems: list[Problem] = list(found or [])
    entries: list[FaqEntry] = []
    first_line: dict[str, int] = {}
    for row in rows:
        line, data, lines = row.line, row.data, row.lines
        problems.extend(row.problems)

        def bad(field: str, message: str, index: int | None = None, _row: _Row = row) -> None:
            at = _row.items.get(field, [])
            where = at[index] if index is not None and index < len(at) else None
            problems.append(Problem(where or _row.lines.get(field, _row.line), field, message))

        if data is None and row.problems:
            continue
        if not isinstance(data, dict) or not data:
            bad("entry", "expected a mapping with id, question and answer")
            continue
        for key in data:
            if str(key) not in FIELDS:
                problems.append(Problem(lines.get(str(key), line), str(key), _unknown_key(key)))
        entry_id = _text(data.get("id"))
        if not entry_id:
            bad("id", "missing")
        elif not ID_RE.match(entry_id):
            bad("id", f"{entry_id!r} must be lower-case letters, digits, '.', '_' or '-'")
        elif entry_id in first_line:
            bad("id", f"duplicate id {entry_id!r} (first at line {first_line[entry_id]})")
        else:
            first_line[entry_id] = line
        language = _text(data.get("language")) or "zh"
        if language not in LANGUAGES:
            bad("language", f"must be zh or en (got {language!r})")
        question = _text(data.get("question"))
        answer = _text(data.get("answer"))
        category = _text(data.get("category"))
        if not question:
            bad("question", "missing")
        elif len(question) > MAX_PHRASING:
            bad("question", f"longer than {MAX_PHRASING} characters")
        if len(category) > MAX_CATEGORY:
            bad("category", f"longer than {MAX_CATEGORY} characters")
        if not answer:
            bad("answer", "missing")
        elif len(answer) > MAX_ANSWER:
            bad("answer", f"longer than {MAX_ANSWER} characters")
        variants = _strings(data.get("variants"), "variants", bad)
        tags = _strings(data.get("tags"), "tags", bad)
        for index, variant in variants:
            if len(variant) > MAX_PHRASING:
                bad("variants", f"variant {index + 1} longer than {MAX_PHRASING} characters", index)
        # An entry that refuses to promise returns lists the promises clients ask about.
        quoting = {t.casefold() for _, t in tags} & COMPLIANCE_TAGS
        screened = [("question", None, question), ("category", None, category)]
        screened += [("variants", i, v) for i, v in variants if not quoting]
        screened.append(("answer", None, answer))
        for name, index, text in screened:
            if text and (hits := forbidden_in(text)):
                bad(name, f"promises returns ({', '.join(hits)}); not allowed", index)
        buttons = _buttons(data.get("buttons"), bad)
        enabled = parse_enabled(data.get("enabled", True))
        if enabled is None:
            bad("enabled", f"must be true or false ({'/'.join(TRUE_WORDS + FALSE_WORDS)})")
        entries.append(
            FaqEntry(
                id=entry_id,
                language=language,
                category=category or ("其他" if language == "zh" else "Other"),
                question=question,
                answer=answer,
                variants=tuple(v for _, v in variants),
                tags=tuple(t for _, t in tags),
                buttons=tuple(buttons),
                enabled=bool(enabled),
            )
        )
    if problems:
        raise KbFileError(source, problems)
    return entries


def check(data: dict[str, Any], source: str = "chat") -> FaqEntry:
    """One entry as a mapping (what staff typed in the chat): the entry a file with it would
    give, or KbFileError with every problem. Files and the chat share these rules."""
    return _validate([_Row(1, data)], source)[0]


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def parse_enabled(value: Any) -> bool | None:
    """YAML booleans, or (YAML or CSV) one of the words; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def _strings(value: Any, field: str, bad: Any) -> list[tuple[int, str]]:
    """(index in the file's list, text) of each non-empty item."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        bad(field, "must be a list of texts")
        return []
    return [(i, str(v).strip()) for i, v in enumerate(value) if str(v).strip()]


def _buttons(value: Any, bad: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        bad("buttons", "must be a list of buttons, each with a label and a url or command")
        return []
    out = []
    for index, button in enumerate(value):
        n = index + 1

        def wrong(message: str, _i: int = index, _n: int = n) -> None:
            bad("buttons", f"button {_n}: {message}", _i)

        if not isinstance(button, dict):
            wrong("must be a mapping with a label and a url or command")
            continue
        clean: dict[str, str] = {}
        for key, raw in button.items():
            if key not in BUTTON_KEYS:
                wrong(f"unknown key {key!r}; allowed: {', '.join(BUTTON_KEYS)}")
            elif isinstance(raw, str | int | float) and not isinstance(raw, bool):
                clean[key] = str(raw).strip()
            else:
                wrong(f"{key} must be a text")
        label = clean.get("label", "")
        if "label" not in button or ("label" in clean and not label):
            wrong("label missing")
        elif len(label) > MAX_LABEL:
            wrong(f"label longer than {MAX_LABEL} characters")
        elif hits := forbidden_in(label):  # clients see the label
            wrong(f"label promises returns ({', '.join(hits)}); not allowed")
        if ("url" in clean) == ("command" in clean):
            wrong("needs exactly one of url or command")
        elif "url" in clean and not URL_RE.match(clean["url"]):
            wrong("url must start with http://, https:// or tg:// and contain no spaces")
        elif "command" in clean and (message := _command_problem(clean["command"])):
            wrong(message)
        out.append(clean)
    return out


def _command_problem(command: str) -> str | None:
    if len(command.splitlines()) > 1:
        return "command must be on one line"
    if not COMMAND_RE.match(command):
        return "command must be one /command, optionally with arguments (/subscribe training)"
    if any(arg.startswith("/") for arg in command.split()[1:]):
        return "command must be a single /command (found a second one in its arguments)"
    if len(command.encode("utf-8")) > MAX_COMMAND_BYTES:
        return f"command longer than {MAX_COMMAND_BYTES} bytes of UTF-8 (Telegram button data)"
    return None


def as_mapping(e: FaqEntry) -> dict[str, Any]:
    """An entry as a file holds it (defaults left out); `check` takes it back."""
    item: dict[str, Any] = {
        "id": e.id,
        "language": e.language,
        "category": e.category,
        "question": e.question,
        "variants": list(e.variants),
        "answer": e.answer,
        "tags": list(e.tags),
    }
    if e.buttons:
        item["buttons"] = [dict(b) for b in e.buttons]
    if not e.enabled:
        item["enabled"] = False
    return item


def to_yaml(entries: list[FaqEntry]) -> str:
    data = [as_mapping(e) for e in entries]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def to_csv(entries: list[FaqEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow(
            {
                "id": e.id,
                "language": e.language,
                "category": e.category,
                "question": e.question,
                "variants": LIST_SEP.join(e.variants),
                "answer": e.answer,
                "tags": LIST_SEP.join(e.tags),
                "enabled": "true" if e.enabled else "false",
                "buttons": json.dumps(list(e.buttons), ensure_ascii=False) if e.buttons else "",
            }
        )
    return out.getvalue()
