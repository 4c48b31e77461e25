"""`python -m bot wechat menu FILE`: the shipped menu publishes; a broken one is named."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.channels.wechat import menu
from bot.cli import wechat as cli_wechat
from tests.conftest import SettingsFactory
from tests.e2e.wechat.conftest import wechat_env
from tests.fakes.wechat_api import FakeWechatApi


async def test_the_shipped_menu_publishes(
    make_settings: SettingsFactory, wechat_api: FakeWechatApi, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(**wechat_env(wechat_api, safe=True))
    args = argparse.Namespace(file=cli_wechat.DEFAULT_MENU, check=False)
    assert await cli_wechat.run(settings, args) == 0
    assert wechat_api.menu is not None
    names = [b["name"] for b in wechat_api.menu["button"]]
    assert names == ["订阅服务", "常见问题", "联系我们"]
    assert "menu published: 3 buttons" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("button: []", "1 to 3 buttons"),
        ("button: [{name: a, type: click, key: k}]\nx: [", "not valid YAML"),
        ("button:\n" + "  - {name: a, type: click, key: k}\n" * 4, "1 to 3 buttons"),
        ("button: [{name: 这个按钮的名字实在太长了, type: click, key: k}]", "longer than 16"),
        ("button: [{name: a, type: click}]", "button 1 (a): a click button needs a key"),
        ("button: [{name: a, type: view, url: 'ftp://x'}]", "http:// or https://"),
        ("button: [{name: a, sub_button: [{name: b, type: jump, key: k}]}]", "button 1.1 (b)"),
    ],
)
def test_a_broken_menu_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "menu.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(menu.MenuError) as caught:
        menu.load(path)
    assert problem in str(caught.value)
