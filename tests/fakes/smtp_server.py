"""A real SMTP server on a free local port (aiosmtpd, in its own thread) that keeps what it
is sent and can be told to refuse: a recipient (550), every message, a login.

`tls`: "off", "starttls" (offered and required before login) or "tls" (implicit), with a
self-signed certificate made for 127.0.0.1; `client_context` trusts it."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port

USER, PASSWORD = "reports@example.com", "pa55-word-不外传"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> the answer
    data_answer: str | None = None  # say this to DATA instead of taking the message

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answer is not None:
            return self.data_answer
        login = session.auth_data.login.decode() if session.authenticated else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
        )
        return "250 Message accepted"


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SmtpServer:
    def __init__(self, directory: Path, tls: str = "off") -> None:
        self.handler = Handler()
        self.port = free_port()
        self.tls = tls
        kwargs: dict[str, Any] = {
            "authenticator": _check_login,
            # Over implicit TLS aiosmtpd cannot tell the socket is encrypted: only STARTTLS
            # is checked here; a plain server takes no login.
            "auth_require_tls": tls == "starttls",
        }
        self.client_context: ssl.SSLContext | None = None
        if tls != "off":
            cert, key = certificate(directory)
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(cert, key)
            self.client_context = ssl.create_default_context(cafile=str(cert))
            if tls == "tls":
                kwargs["ssl_context"] = server_context
            else:
                kwargs.update(tls_context=server_context, require_starttls=True)
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, server_hostname="127.0.0.1",
            **kwargs,
        )  # fmt: skip

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def env(self, **more: str) -> dict[str, str]:
        """The settings that point the bot at this server."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_TLS": self.tls,
            "SMTP_FROM": "国瑞投资 客服部 <reports@example.com>",
            "SMTP_TIMEOUT_SECONDS": "5",
            **more,
        }

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
