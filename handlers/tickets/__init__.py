"""Complaints and consultations as tickets: intake, routing, the advisors' desk, relay.

The app's clock and delivery engine call `tick` (SLA breaches) and `undelivered` (relayed
messages that did not arrive); they are named here so the app need not know the modules."""

from handlers.tickets.sla import tick
from handlers.tickets.undelivered import undelivered

__all__ = ["tick", "undelivered"]
