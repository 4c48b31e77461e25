"""Reading a client list: the CSV's lines, each problem (header, decoding, a quote left open)
named by its line, so that `clients import` can check the whole file before writing any."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path


class ListError(Exception):
    """A problem with the file, named by line and column."""


def split_list(value: str) -> tuple[str, ...]:
    """A `;`-separated cell (the full-width `；` too), without blanks or repeats."""
    return tuple(dict.fromkeys(p.strip() for p in value.replace("；", ";").split(";") if p.strip()))


def lines(
    path: Path, encoding: str, columns: Sequence[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; a decoding problem names its line."""
    try:
        handle = path.open(encoding=encoding, newline="")
    except LookupError:
        raise ListError(f"--encoding {encoding!r} is not an encoding Python knows") from None
    except OSError as exc:
        raise ListError(f"{path}: cannot be read ({exc.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        line = 1
        try:
            header = [h.strip().lower() for h in reader.fieldnames or []]
            if "address" not in header:
                raise ListError("line 1: the header must name an `address` column")
            unknown = [h for h in header if h not in columns]
            if unknown:
                raise ListError(
                    f"line 1: unknown column {unknown[0]!r} (known: {', '.join(columns)})"
                )
            reader.fieldnames = header
            for row in reader:
                start, line = line + 1, reader.line_num
                if None in row:
                    raise ListError(f"line {line}: more fields than the header has columns")
                spread = [k for k, v in row.items() if v and ("\n" in v or "\r" in v)]
                if spread:  # an unclosed quote would swallow the lines after it
                    raise ListError(
                        f"line {start}, column {spread[0]}: the value runs over several lines "
                        '(a quote " not closed?)'
                    )
                yield line, {k: (v or "").strip() for k, v in row.items()}
        except UnicodeDecodeError:
            line = _undecodable_line(path, encoding)
            shown = (
                "UTF-8"
                if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8")
                else encoding
            )
            raise ListError(
                f"line {line}: the file is not {shown} ("
                + (
                    "a list saved by Excel in China is often GBK: try --encoding gbk, or save it "
                    "as UTF-8)"
                    if shown == "UTF-8"
                    else "check --encoding, or save it as UTF-8)"
                )
            ) from None
        except csv.Error as exc:
            raise ListError(f"line {reader.line_num}: {exc}") from None


def _undecodable_line(path: Path, encoding: str) -> int:
    """The first line that does not decode (the reader decodes ahead in blocks)."""
    decoder_encoding = "utf-8" if encoding.lower() == "utf-8-sig" else encoding
    with path.open("rb") as raw:
        for number, data in enumerate(raw, 1):
            try:
                data.decode(decoder_encoding)
            except UnicodeDecodeError:
                return number
    return 1
