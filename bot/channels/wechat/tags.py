"""A subscription account's topics as WeChat user tags, kept in step with the subscriptions:
each topic mass-sent to has a tag, and its subscribers on WeChat carry it, so the account's
one mass send a day reaches a topic's followers by tag (`message/mass/sendall`).

The work is the difference between what the subscriptions say and what WeChat was told
(`tx.wechat_tags`), done 50 followers a call and recorded after each: a restart or a lost
answer repeats a call, which tagging twice makes harmless."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.channels.wechat.api import ApiError, WechatApi
from storage.database import Database

log = logging.getLogger(__name__)

BATCH = 50  # followers per tagging call (WeChat's limit)
NAME_LIMIT = 30  # characters in a tag's name
NAME_TAKEN = 45157
INVALID_TAG = 45159
# One follower of a batch WeChat will not tag (not a follower, 20 tags already): the batch
# is retried one by one, and that follower passed over.
FOLLOWER_REFUSED = frozenset({40003, 45059, 43004})


class TagsGone(Exception):
    """WeChat does not know the topic's tag any more: made again on the next sync."""


class TagSync:
    def __init__(
        self, api: WechatApi, db: Database, hold: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.api = api
        self.db = db
        # Called before each call: the caller's lease renewed (raising when it is lost), so
        # a long sync never outlasts it.
        self.hold = hold

    async def sync(self, topics: frozenset[str] | None = None, calls: int = 20) -> bool:
        """Up to `calls` tagging calls toward the subscriptions (`topics`: only those
        topics' tags, else every mass-sent topic's); True when nothing is left to do."""
        for untag in (True, False):
            for topic, chats in (await self._work(topics, BATCH * calls, untag=untag)).items():
                for start in range(0, len(chats), BATCH):
                    if calls <= 0:
                        return False
                    calls -= 1
                    await self._apply(topic, chats[start : start + BATCH], untag=untag)
        return not any([await self._work(topics, 1, untag=u) for u in (True, False)])

    async def _work(
        self, topics: frozenset[str] | None, limit: int, *, untag: bool
    ) -> dict[str, list[str]]:
        async with self.db.read() as tx:
            if untag:
                return await tx.wechat_tags.to_untag(self.db.mass_topics, limit, only=topics)
            return await tx.wechat_tags.to_tag(topics or self.db.mass_topics, limit)

    async def tag_id(self, topic: str) -> int:
        """The topic's tag, made when it has none yet."""
        async with self.db.read() as tx:
            known = await tx.wechat_tags.tag_of(topic)
            found = await tx.topics.get(topic)
        if known is not None:
            return known
        # Named as staff know the topic, its key last: the name says which topic it is.
        name = f"{found.name_zh if found else ''}({topic})"[-NAME_LIMIT:]
        if self.hold is not None:
            await self.hold()
        try:
            tag_id = await self.api.create_tag(name)
        except ApiError as exc:
            if exc.code != NAME_TAKEN:
                raise
            # Ours, made by a call whose answer was lost: the name says which topic it is.
            tag_id = (await self.api.tags())[name]
        async with self.db.write() as tx:
            await tx.wechat_tags.set_tag(topic, tag_id, name)
        log.info("wechat: topic %s is tag %s (%s)", topic, tag_id, name)
        return tag_id

    async def _apply(self, topic: str, chats: list[str], *, untag: bool) -> None:
        tag_id = await self.tag_id(topic) if not untag else await self._known(topic)
        if tag_id is None:
            return
        openids = [chat.split(":", 1)[1] for chat in chats]
        if self.hold is not None:
            await self.hold()
        try:
            await self.api.tag_followers(tag_id, openids, untag=untag)
        except ApiError as exc:
            if exc.code == INVALID_TAG:
                await self._forget(topic)
                raise TagsGone(topic) from None
            if exc.code not in FOLLOWER_REFUSED or len(openids) == 1:
                if exc.code in FOLLOWER_REFUSED:  # this one follower: passed over
                    log.info("wechat: %s not %s: %s", chats[0], "untagged" if untag else "tagged",
                             exc)  # fmt: skip
                    await self._record(topic, chats, untag=untag)
                    return
                raise
            for chat in chats:  # which one WeChat refused: one by one
                await self._apply(topic, [chat], untag=untag)
            return
        await self._record(topic, chats, untag=untag)

    async def _record(self, topic: str, chats: list[str], *, untag: bool) -> None:
        async with self.db.write() as tx:
            if untag:
                await tx.wechat_tags.untagged(topic, chats)
            else:
                await tx.wechat_tags.tagged(topic, chats)

    async def _known(self, topic: str) -> int | None:
        async with self.db.read() as tx:
            return await tx.wechat_tags.tag_of(topic)

    async def _forget(self, topic: str) -> None:
        log.warning("wechat: the tag of topic %s is gone; it is made again", topic)
        async with self.db.write() as tx:
            await tx.wechat_tags.forget(topic)
