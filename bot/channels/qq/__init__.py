"""The QQ channel over OneBot v11 (NapCat, Lagrange, LLOneBot and others)."""
