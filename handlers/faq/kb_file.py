"""Knowledge-base files: YAML or CSV in, YAML or CSV out, with errors that name line and field.

A file is checked completely before anything is written, so an import is all or nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handlers.faq.compliance import forbidden_in
from storage.records import FaqEntry

# Ids ride in button data (64 bytes on Telegram), so they stay short.
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
LANGUAGES = ("zh", "en")
CSV_FIELDS = (
    "id", "language", "category", "question", "variants", "answer", "tags", "enabled", "buttons",
)  # fmt: skip
LIST_SEP = "|"
MAX_ANSWER = 3000


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
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise KbFileError(source, [Problem(line, "yaml", f"broken YAML: {problem}")]) from None
        if root is None:
            return []
        if not isinstance(root, yaml.SequenceNode):
            raise KbFileError(source, [Problem(1, "yaml", "expected a list of entries")])
        rows = []
        for node in root.value:
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                rows.append((line, {}, {"entry": line}))
                continue
            lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
            rows.append((line, loader.construct_object(node, deep=True), lines))
    finally:
        loader.dispose()
    return _validate(rows, source)


def parse_csv(text: str, source: str = "<csv>") -> list[FaqEntry]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in ("id", "question", "answer") if f not in (reader.fieldnames or [])]
    if missing:
        raise KbFileError(
            source, [Problem(1, f, "column missing from the header") for f in missing]
        )
    rows = []
    for record in reader:
        data: dict[str, Any] = {k: v for k, v in record.items() if k and v not in (None, "")}
        for key in ("variants", "tags"):
            if key in data:
                data[key] = [v.strip() for v in data[key].split(LIST_SEP) if v.strip()]
        if "enabled" in data:
            data["enabled"] = data["enabled"].strip().lower() not in ("0", "false", "no", "n")
        if "buttons" in data:  # JSON, e.g. [{"label": "管理订阅", "command": "/topics"}]
            try:
                data["buttons"] = json.loads(data["buttons"])
            except ValueError:
                data["buttons"] = "not JSON"
        rows.append((reader.line_num, data, {}))
    return _validate(rows, source)


def _validate(rows: list[tuple[int, Any, dict[str, int]]], source: str) -> list[FaqEntry]:
    problems: list[Problem] = []
    entries: list[FaqEntry] = []
    first_line: dict[str, int] = {}
    for line, data, lines in rows:

        def bad(field: str, message: str, _line: int = line, _lines: dict = lines) -> None:  # type: ignore[type-arg]
            problems.append(Problem(_lines.get(field, _line), field, message))

        if not isinstance(data, dict) or not data:
            bad("entry", "expected a mapping with id, question and answer")
            continue
        entry_id = str(data.get("id") or "").strip()
        if not entry_id:
            bad("id", "missing")
        elif not ID_RE.match(entry_id):
            bad("id", f"{entry_id!r} must be lower-case letters, digits, '.', '_' or '-'")
        elif entry_id in first_line:
            bad("id", f"duplicate id {entry_id!r} (first at line {first_line[entry_id]})")
        else:
            first_line[entry_id] = line
        language = str(data.get("language") or "zh").strip()
        if language not in LANGUAGES:
            bad("language", f"must be zh or en (got {language!r})")
        question = _text(data.get("question"))
        answer = _text(data.get("answer"))
        if not question:
            bad("question", "missing")
        if not answer:
            bad("answer", "missing")
        elif len(answer) > MAX_ANSWER:
            bad("answer", f"longer than {MAX_ANSWER} characters")
        if answer and (found := forbidden_in(answer)):
            bad("answer", f"promises returns ({', '.join(found)}); not allowed")
        variants = _strings(data.get("variants"), "variants", bad)
        tags = _strings(data.get("tags"), "tags", bad)
        buttons = _buttons(data.get("buttons"), bad)
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            bad("enabled", "must be true or false")
        entries.append(
            FaqEntry(
                id=entry_id,
                language=language,
                category=_text(data.get("category")) or ("其他" if language == "zh" else "Other"),
                question=question,
                answer=answer,
                variants=tuple(variants),
                tags=tuple(tags),
                buttons=tuple(buttons),
                enabled=bool(enabled),
            )
        )
    if problems:
        raise KbFileError(source, problems)
    return entries


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _strings(value: Any, field: str, bad: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        bad(field, "must be a list of texts")
        return []
    return [str(v).strip() for v in value if str(v).strip()]


def _buttons(value: Any, bad: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    ok = isinstance(value, list) and all(
        isinstance(b, dict) and b.get("label") and (b.get("command") or b.get("url")) for b in value
    )
    if not ok:
        bad("buttons", "each button needs a label and a command or url")
        return []
    return [{k: str(v) for k, v in b.items() if k in ("label", "command", "url")} for b in value]


def to_yaml(entries: list[FaqEntry]) -> str:
    data = []
    for e in entries:
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
        data.append(item)
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
