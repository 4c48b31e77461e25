"""Who holds a lease: host, process id, a token for this run of the process, and a nonce
per holder, so a restarted process can tell that a lease's holder is gone for sure."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

_RUN = secrets.token_hex(4)  # new for every run of the program, shared within one


def new_owner() -> str:
    host = socket.gethostname().replace(":", "-")[:40] or "host"
    return f"{host}:{os.getpid()}:{_RUN}:{secrets.token_hex(3)}"


def is_dead(owner: str, me: str) -> bool:
    """True only when `owner` certainly is gone: it ran on this host, and either its
    process id is unused, or it is ours but from an earlier run (a restarted container
    reuses the pid). Anything else may still be alive: its lease has to run out."""
    parts, mine = owner.split(":"), me.split(":")
    if owner == me or len(parts) != 4 or parts[0] != mine[0] or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return parts[2] != _RUN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass(slots=True)
class Tenure:
    """This process on every lease it takes (outbox rows, channels, recorded events): its
    owner id, how long a lease lasts unless renewed, and the owners found dead at start.
    One object, shared by the delivery engine, the inbox and the recorder, so none of them
    asks another for it."""

    owner: str
    seconds: float
    dead: tuple[str, ...] = ()
