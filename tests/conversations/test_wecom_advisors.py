"""Advisors' WeCom accounts: an advisor sets their own (`/wecom me USERID`), staff set one
for an advisor, a bad id or a non-advisor is refused with the reason, and an account moved
to another advisor says whose it was."""

from __future__ import annotations

from tests.conftest import SettingsFactory
from tests.harness import Harness


async def test_advisors_link_their_wecom_accounts(make_settings: SettingsFactory) -> None:
    bot = Harness(make_settings())
    await bot.start()
    try:
        await bot.say("/grant console:adv1 advisor", user="admin")
        await bot.say("/grant console:adv2 advisor", user="admin")
        await bot.say("/grant console:desk staff", user="admin")
        assert "未设置" in await bot.text("/wecom", user="adv1")
        assert "zhangsan" in await bot.text("/wecom me zhangsan", user="adv1")
        assert "zhangsan" in await bot.text("/wecom", user="adv1")
        assert "字母" in await bot.text("/wecom me 张三!", user="adv1")
        assert "只能设置自己" in await bot.text("/wecom console:adv2 lisi", user="adv1")
        assert "不是投资顾问" in await bot.text("/wecom console:alice lisi", user="desk")
        moved = await bot.text("/wecom console:adv2 zhangsan", user="desk")
        assert "console:adv1" in moved  # it was adv1's: now adv2's
        async with bot.app.db.read() as tx:
            assert await tx.advisors.by_wecom("zhangsan") == "console:adv2"
            assert (await tx.advisors.get("console:adv1")).wecom_userid is None  # type: ignore[union-attr]
        assert "/wecom" not in await bot.text("/wecom me x", user="alice")  # clients: not theirs
    finally:
        await bot.stop()
