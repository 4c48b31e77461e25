"""Complaints and consultations as tickets: intake, routing, the advisors' desk, relay."""
