"""FAQ: the knowledge base, the matching engine, client answers and staff upkeep."""
