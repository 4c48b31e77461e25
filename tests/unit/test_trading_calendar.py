"""The trading calendar: holidays from the package, make-up weekend days that are no trading
days, the firm's overrides, and years nobody knows yet."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.cli import main
from broadcasts.trading_calendar import (
    CalendarError,
    TradingCalendar,
    load_overrides,
    save_override,
)

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

D = dt.date


def test_holidays_weekends_and_makeup_days() -> None:
    cal = TradingCalendar()
    assert cal.day(D(2026, 10, 1)).reason == "holiday:National Day"
    assert cal.is_trading(D(2026, 10, 1)) is False
    makeup = cal.day(D(2026, 2, 14))  # a Saturday staff work (调休): still no trading
    assert makeup.trading is False and makeup.reason == "makeup:Spring Festival"
    assert cal.is_trading(D(2026, 2, 13)) is True and cal.is_trading(D(2026, 2, 21)) is False
    assert cal.is_trading(D(2026, 12, 1)) is True
    assert sum(1 for d in cal.year(2026) if d.trading) == 242


def test_overrides_win_and_decide_an_unpublished_year(tmp_path: Path) -> None:
    path = tmp_path / "over.yaml"
    assert TradingCalendar().is_trading(D(2027, 1, 4)) is None, "no data: not guessed"
    save_override(path, "2027-01-04", "trading")
    save_override(path, "2026-12-31", "closed")
    cal = TradingCalendar(load_overrides(path))
    assert cal.is_trading(D(2027, 1, 4)) is True and cal.is_trading(D(2026, 12, 31)) is False
    assert cal.is_trading(D(2027, 1, 2)) is False, "a weekend needs no data"
    assert not cal.has_data(2027) and cal.has_data(2026)
    save_override(path, "2026-12-31", None)
    assert load_overrides(path) == {D(2027, 1, 4): "trading"}
    with pytest.raises(CalendarError, match="has no override"):
        save_override(path, "2026-12-31", None)


@pytest.mark.parametrize(
    "text", ["2027-01-01: open\n", "[1, 2]\n", "tomorrow: closed\n", "2027-01-01: [closed\n"]
)
def test_a_bad_override_file_is_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "over.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(CalendarError, match=r"over\.yaml"):
        load_overrides(path)


def test_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("CALENDAR_OVERRIDES", str(tmp_path / "over.yaml"))
    assert main(["calendar", "override", "add", "2027-01-01", "closed"]) == 0
    assert main(["calendar", "override", "add", "2027-02-30", "closed"]) == 2
    assert main(["calendar", "override", "add", "2027-01-04"]) == 2
    capsys.readouterr()
    assert main(["calendar", "trading", "--year", "2027", "--json"]) == 0
    out = capsys.readouterr()
    days = json.loads(out.out)
    assert days[0] == {"date": "2027-01-01", "trading": False, "reason": "override"}
    assert days[3] == {"date": "2027-01-04", "trading": None, "reason": "no data"}
    assert "no data for 2027" in out.err
    assert main(["calendar", "trading", "--year", "2026"]) == 0
    assert "242 trading days" in capsys.readouterr().out
