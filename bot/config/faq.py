"""FAQ settings (no prefix)."""

from bot.config.base import _Section


class FaqSettings(_Section):
    """The knowledge base (no prefix)."""

    # Whether a new database starts with the shipped knowledge base (off: a firm's own,
    # imported with `faq import FILE --replace`). Read once, when the database is new.
    faq_defaults: bool = True
