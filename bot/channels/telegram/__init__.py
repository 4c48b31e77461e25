"""Telegram through aiogram 3: update conversion, sending, long polling and webhook."""
