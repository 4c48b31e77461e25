"""Channel health: the in-memory record (`state`) and the notices to staff (`notices`)."""

from bot.core.health.state import ChannelHealth, Health, Told

__all__ = ["ChannelHealth", "Health", "Told"]
