"""The errcodes the WeCom fakes answer, and how WeCom words an answer's errmsg.

Every code below is on WeCom's global errcode page (全局错误码, developer.work.weixin.qq.com/
document/path/90313); its Chinese title there is the comment. Where the page or an endpoint's
own page says which call answers it, the fake uses it that way; the few uses that are this
fake's inference are marked UNCONFIRMED where they are raised (wecom_kf_api, wecom_contact_api).

An errmsg is an English head (WeCom's own words where seen in real answers, else a paraphrase
of the title) followed by ``, hint: [...], from ip: ..., more info at https://open.work.weixin.
qq.com/devtool/query?e=NNN``, as real answers carry: nothing should match on errmsg (90313:
"开发者的程序应该根据errcode来判断出错的情况，而不应该依赖errmsg来匹配").
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from typing import Any

JSON = dict[str, Any]

ERRMSG: dict[int, str] = {
    -1: "system busy",  # 系统繁忙
    0: "ok",  # 请求成功
    40001: "invalid credential",  # 不合法的secret参数
    40003: "invalid userid",  # 无效的UserID
    40008: "invalid message type",  # 不合法的msgtype参数
    40013: "invalid corpid",  # 不合法的CorpID
    40014: "invalid access_token",  # 不合法的access_token
    40058: "invalid Request Parameter",  # 不合法的参数 (bad JSON, too long, out of range)
    40063: "some parameters are empty",  # 参数为空 (a required parameter is missing)
    41001: "access_token missing",  # 缺少access_token参数
    41002: "corpid missing",  # 缺少corpid参数
    41004: "corpsecret missing",  # 缺少secret参数
    41009: "missing userid",  # 缺少userid参数
    41046: "missing msgid",  # 缺少企业群发消息id
    41047: "invalid msgid",  # 无效的企业群发消息id
    41048: "no external contact to send",  # 无可发送的客户
    41049: "missing welcome code",  # 缺少欢迎语code参数
    41050: "invalid welcome code",  # 无效的欢迎语code (须在添加好友后20秒内使用)
    41051: "externaluser has started chatting",  # 客户和服务人员已经开始聊天了
    41063: "group msg is dispatching, please try later",  # 群发消息正在被派发中，请稍后再试
    42001: "access_token expired",  # access_token已过期
    44004: "empty content",  # 文本消息content参数为空
    45002: "content size out of limit",  # 消息内容大小超过限制 (text: 2048 bytes)
    45009: "api freq out of limit",  # 接口调用超过限制
    48002: "api forbidden",  # API接口无权限调用 (a token of another app's secret)
    95000: "invalid open_kfid",  # 不合法的open_kfid
    95001: "send msg count limit",  # 发送客服消息次数限制 (5 after a client's message)
    95002: "send msg time limit",  # 发送客服消息时间限制 (48 hours after it)
    95004: "open_kfid not exist",  # open_kfid不存在
    95007: "invalid msg token",  # 不合法的msgtoken (msgtoken有时效性，可能为失效或者非法)
    95008: "too many menu items",  # 菜单消息的菜单项个数超过上限 (10)
    95009: "invalid menu item type",  # 不合法的菜单消息的菜单项类型
    95014: "user is not servicer",  # 用户不是接待人员
    95016: "service state transition not allowed",  # 不允许这种状态转移
    95018: "send msg session status invalid",  # 发送客服消息时当前会话状态不允许发送
}


class WecomError(Exception):
    """Raised by an endpoint: the call is answered with this errcode (and nothing else)."""

    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


class Errmsg:
    """Formats errmsg as WeCom does; `clock` stamps the hint, `ip` is the caller's."""

    def __init__(self, clock: Callable[[], float], ip: str = "127.0.0.1") -> None:
        self.clock, self.ip = clock, ip
        self._seq = itertools.count(100)

    def answer(self, errcode: int) -> JSON:
        if errcode == 0:
            return {"errcode": 0, "errmsg": "ok"}
        head = ERRMSG.get(errcode, "system busy")
        hint = f"{int(self.clock())}_{next(self._seq)}_{secrets.token_hex(16)}"
        errmsg = (
            f"{head}, hint: [{hint}], from ip: {self.ip}, "
            f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
        )
        return {"errcode": errcode, "errmsg": errmsg}


def required(data: JSON, name: str, *, missing: int = 40063) -> str:
    """A required non-empty string field, or `missing` (40063 参数为空 by default)."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise WecomError(missing)
    return value


def within_bytes(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value.encode()) <= high
