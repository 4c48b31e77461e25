"""Customer-service chat-ops bot."""
