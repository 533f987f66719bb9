"""Real local receivers for delivery tests: an HTTPS server (stdlib http.server + ssl) and an SMTP
server with STARTTLS and AUTH (aiosmtpd), both on 127.0.0.1 with a self-signed certificate made here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway-test-receiver")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpsReceiver:
    """Answers each POST with the next scripted status (then ``default_status``); records every one."""

    url: str
    server: ThreadingHTTPServer
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        """Requests answered 2xx."""
        with self.lock:
            return [r for r in self.received if r.headers.get("x-test-status", "200").startswith("2")]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_https_receiver(cert: Path, key: Path) -> HttpsReceiver:
    state: dict[str, HttpsReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = state["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if rec.delay_s:
                time.sleep(rec.delay_s)
            with rec.lock:
                status = rec.script.pop(0) if rec.script else rec.default_status
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["x-test-status"] = str(status)
                rec.received.append(Received(self.path, headers, body))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "https://elsewhere.invalid/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    rec = HttpsReceiver(f"https://127.0.0.1:{server.server_address[1]}/hooks/missing", server)
    state["r"] = rec
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return rec


def free_port() -> int:
    # aiosmtpd's controller checks it is up by connecting to the port it was given, so it needs a
    # real number rather than 0.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpReceiver:
    host: str
    port: int
    controller: Any
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    tls_used: list[bool] = field(default_factory=list)
    auth_used: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.controller.stop()


def start_smtp_receiver(
    cert: Path, key: Path, *, user: str = "gateway", password: str = "s3cret-test", starttls: bool = True
) -> SmtpReceiver:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box: dict[str, SmtpReceiver] = {}

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            rec = box["r"]
            rec.messages.append(message_from_bytes(envelope.original_content or envelope.content))
            rec.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            rec.tls_used.append(session.ssl is not None)
            rec.auth_used.append(getattr(session, "authenticated_as", ""))
            return "250 Message accepted for delivery"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == user.encode() and auth_data.password == password.encode()
        )
        if ok:
            session.authenticated_as = user
        return AuthResult(success=ok, handled=False)

    tls = None
    if starttls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=starttls,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=starttls,
    )
    controller.start()
    rec = SmtpReceiver("127.0.0.1", controller.port, controller)
    box["r"] = rec
    return rec
