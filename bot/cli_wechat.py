"""`python -m bot wechat menu FILE`: publish the official account's custom menu."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.channels.wechat import menu
from bot.channels.wechat.api import ApiError, NoAnswer, Unreachable, WechatApi
from bot.config import Settings
from bot.startup import open_database

DEFAULT_MENU = Path(menu.__file__).with_name("menu.yaml")


def add_parser(sub: Any) -> None:
    wechat = sub.add_parser("wechat", help="the WeChat official account", description=__doc__)
    actions = wechat.add_subparsers(dest="wechat_command", required=True, metavar="ACTION")
    publish = actions.add_parser(
        "menu",
        help="publish the custom menu from a YAML or JSON file",
        description="Check the menu file against WeChat's rules and publish it. The shipped "
        f"example is {DEFAULT_MENU}.",
    )
    publish.add_argument("file", type=Path, help="the menu, e.g. the shipped menu.yaml")
    publish.add_argument("--check", action="store_true", help="only check the file")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        body = menu.load(args.file)
    except menu.MenuError as exc:
        print(f"wechat menu: {exc}", file=sys.stderr)
        return 2
    buttons = sum(len(b.get("sub_button", [b])) for b in body["button"])
    if args.check:
        print(f"menu ok: {len(body['button'])} buttons, {buttons} actions")
        return 0
    wx = settings.wechat
    if not wx.enabled or wx.app_id is None or wx.app_secret is None:
        print("configuration error: WECHAT_APP_ID: the official account is not configured "
              "(WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET)", file=sys.stderr)  # fmt: skip
        return 2
    db = await open_database(settings.core.database_url)
    api = WechatApi(db, base=wx.api_base, app_id=wx.app_id, secret=wx.app_secret.get_secret_value())
    try:
        await api.create_menu(body)
    except ApiError as exc:
        print(f"wechat menu: WeChat refused it: {exc.code} {exc.message}", file=sys.stderr)
        return 1
    except (Unreachable, NoAnswer) as exc:
        print(f"wechat menu: {wx.api_base} not reachable: {exc}", file=sys.stderr)
        return 1
    finally:
        await api.close()
        await db.close()
    print(f"menu published: {len(body['button'])} buttons, {buttons} actions")
    return 0
