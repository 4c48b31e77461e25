"""A subscription account's topics as WeChat user tags: which tag is which topic's, and
which followers WeChat has been told carry it. What the subscriptions say minus what WeChat
was told is the next sync's work, so a restart or a lost answer only repeats a call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.repos.routes import tag_member
from storage.schema import clients, identities, subscriptions
from storage.schema import wechat_tagged as tagged
from storage.schema import wechat_tags as tags

IN_LIST = 500


class WechatTagRepo(Repo):
    async def tag_of(self, topic: str) -> int | None:
        query = sa.select(tags.c.tag_id).where(tags.c.topic_key == topic)
        return (await self.conn.execute(query)).scalar()

    async def set_tag(self, topic: str, tag_id: int, name: str) -> None:
        await self.upsert(tags, {"topic_key": topic}, {"tag_id": tag_id, "name": name})

    async def forget(self, topic: str) -> None:
        """WeChat no longer knows the topic's tag (deleted in its admin pages): a new one
        is made and every follower tagged again."""
        await self.conn.execute(tags.delete().where(tags.c.topic_key == topic))
        await self.conn.execute(tagged.delete().where(tagged.c.topic_key == topic))

    def _wanted(self, topics: Iterable[str]) -> sa.Select[tuple[str, str]]:
        """(address, topic) of every follower who should carry a topic's tag: subscribed, a
        live WeChat address, the client not erased and not reached elsewhere by choice."""
        return (
            sa.select(identities.c.address, subscriptions.c.topic_key)
            .select_from(
                identities.join(clients, clients.c.id == identities.c.client_id).join(
                    subscriptions, subscriptions.c.client_id == clients.c.id
                )
            )
            .where(
                subscriptions.c.topic_key.in_(sorted(topics)),
                clients.c.erased_at.is_(None),
                tag_member(identities, clients),
            )
        )

    async def to_tag(self, topics: Iterable[str], limit: int) -> dict[str, list[str]]:
        """Followers to tag, by topic (at most `limit` in all)."""
        wanted = self._wanted(topics).subquery()
        query = (
            sa.select(wanted.c.address, wanted.c.topic_key)
            .where(
                ~sa.exists().where(
                    tagged.c.chat == wanted.c.address, tagged.c.topic_key == wanted.c.topic_key
                )
            )
            .order_by(wanted.c.topic_key, wanted.c.address)
            .limit(limit)
        )
        return _by_topic(await self.conn.execute(query))

    async def to_untag(
        self, topics: Iterable[str], limit: int, only: Iterable[str] | None = None
    ) -> dict[str, list[str]]:
        """Followers tagged who should not be any more (unsubscribed, unfollowed, erased,
        moved to another channel), by topic (`only` those topics'); tags of topics no longer
        mass-sent to (not in `topics`), too."""
        wanted = self._wanted(topics).subquery()
        query = (
            sa.select(tagged.c.chat, tagged.c.topic_key)
            .where(
                ~sa.exists().where(
                    wanted.c.address == tagged.c.chat, wanted.c.topic_key == tagged.c.topic_key
                ),
                tagged.c.topic_key.in_(sa.select(tags.c.topic_key)),
            )
            .order_by(tagged.c.topic_key, tagged.c.chat)
            .limit(limit)
        )
        if only is not None:
            query = query.where(tagged.c.topic_key.in_(sorted(only)))
        return _by_topic(await self.conn.execute(query))

    async def tagged(self, topic: str, chats: Sequence[str]) -> None:
        """WeChat tagged these followers."""
        for start in range(0, len(chats), IN_LIST):
            chunk = chats[start : start + IN_LIST]
            have = await self.conn.execute(
                sa.select(tagged.c.chat).where(
                    tagged.c.topic_key == topic, tagged.c.chat.in_(chunk)
                )
            )
            seen = {r.chat for r in have}
            fresh = [{"chat": c, "topic_key": topic} for c in chunk if c not in seen]
            if fresh:
                await self.insert_new(tagged.insert().values(fresh))

    async def untagged(self, topic: str, chats: Sequence[str]) -> None:
        """WeChat untagged these followers (or they carry it no more: unfollowed)."""
        for start in range(0, len(chats), IN_LIST):
            await self.conn.execute(
                tagged.delete().where(
                    tagged.c.topic_key == topic, tagged.c.chat.in_(chats[start : start + IN_LIST])
                )
            )


def _by_topic(rows: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for chat, topic in rows:
        out.setdefault(topic, []).append(chat)
    return out
