"""Repositories: one per aggregate, all sharing the transaction's connection."""
