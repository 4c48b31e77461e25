"""Staff console credentials: Argon2id password hashes, TOTP second factors, one-time
recovery codes, and the growing delay after failed sign-ins. No web framework here: the
`staff` CLI uses it too."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("advisor", "staff", "admin")
MIN_PASSWORD = 10
RECOVERY_CODES = 8
FREE_FAILURES = 3  # then 2 s, 4 s, 8 s … up to an hour between attempts
MAX_LOCK = timedelta(hours=1)
ISSUER = "servicebot"

_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) parameters


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def password_ok(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the name is unknown: the answer takes as long either way.
_DECOY = _hasher.hash(secrets.token_urlsafe(16))


def decoy_check(password: str) -> None:
    password_ok(_DECOY, password)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, name: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The 30-second step whose code this is — the moment's, or the one before or after
    (clock drift) — or None when it is none of them."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at)
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_now(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def code_hash(code: str) -> str:
    """Recovery codes and session tokens are random and long: a plain SHA-256 keeps them."""
    return hashlib.sha256("".join(code.split()).lower().encode()).hexdigest()


def new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]


def lock_after(failures: int, now: datetime) -> datetime | None:
    """Until when sign-in is refused after `failures` failures in a row."""
    if failures <= FREE_FAILURES:
        return None
    return now + min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_LOCK)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What a new account's holder is shown once."""

    secret: str
    uri: str
    recovery_codes: list[str]


def enrol(name: str) -> tuple[Enrolment, list[str]]:
    """A TOTP secret and recovery codes for `name`; with the codes' hashes to store."""
    secret = new_totp_secret()
    codes = new_recovery_codes()
    return Enrolment(secret, totp_uri(secret, name), codes), [code_hash(c) for c in codes]
