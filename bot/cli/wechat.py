"""`python -m bot wechat menu FILE`: publish the official account's custom menu."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.channels.wechat import menu
from bot.cli.base import EXIT_FAILED, EXIT_OK, EXIT_USAGE, database, refuse
from bot.config import Settings

NAME = "wechat"
QUIET = True
DEFAULT_MENU = Path(menu.__file__).with_name("menu.yaml")


def add_parser(sub: Any) -> None:
    wechat = sub.add_parser(NAME, help="the WeChat official account", description=__doc__)
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
        return refuse("wechat menu", exc)
    buttons = sum(len(b.get("sub_button", [b])) for b in body["button"])
    if args.check:
        print(f"menu ok: {len(body['button'])} buttons, {buttons} actions")
        return EXIT_OK
    wx = settings.wechat
    if not wx.enabled or wx.app_id is None or wx.app_secret is None:
        print("configuration error: WECHAT_APP_ID: the official account is not configured "
              "(WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    # Here, not at the top: every `python -m bot` command imports this module, and the API
    # client brings aiohttp (~0.2 s of each process's start).
    from bot.channels.wechat.api import ApiError, NoAnswer, Unreachable, WechatApi

    secret = wx.app_secret.get_secret_value()
    async with database(settings) as db:
        api = WechatApi(db, base=wx.api_base, app_id=wx.app_id, secret=secret)
        try:
            await api.create_menu(body)
        except ApiError as exc:
            print(f"wechat menu: WeChat refused it: {exc.code} {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        except (Unreachable, NoAnswer) as exc:
            print(f"wechat menu: {wx.api_base} not reachable: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await api.close()
    print(f"menu published: {len(body['button'])} buttons, {buttons} actions")
    return EXIT_OK
