"""Clients in a state or a language the FAQ cannot serve: the upset are calmed and brought
back to their problem (calm.py, before the FAQ); those writing Cantonese, English or another
language the FAQ could not answer are asked kindly and offered a person who reads it
(dialect.py, after the FAQ)."""
