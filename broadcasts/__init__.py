"""Broadcast planning, compliance screening, outbox workers and scheduler jobs."""
