"""amqps:// URLs get verified TLS with the configured CA and client certificate."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.broker.connection import parameters
from gateway.settings import get_settings


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "client.pem", tmp / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_amqps_uses_verified_tls_with_the_configured_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    monkeypatch.setenv("GATEWAY_AMQP_CA_FILE", str(cert))
    monkeypatch.setenv("GATEWAY_AMQP_CERT_FILE", str(cert))
    monkeypatch.setenv("GATEWAY_AMQP_KEY_FILE", str(key))
    get_settings.cache_clear()
    try:
        params = parameters("amqps://user:pw@broker.example:5671/%2F")
    finally:
        get_settings.cache_clear()
    context = params.ssl_options.context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert params.ssl_options.server_hostname == "broker.example"
    assert len(context.get_ca_certs()) == 1  # our CA, not the system bundle


def test_plain_amqp_has_no_tls() -> None:
    assert parameters("amqp://guest:guest@localhost:5672/%2F").ssl_options is None
