"""TLS material for the local broker's SASL_SSL listener (`journey stack up --secure`): a CA of
its own and a broker certificate it signed, for the loopback address and `localhost`.

Written once into `<stack data dir>/tls/`: `ca.pem` (what clients trust: `kafka.ssl_ca_location`)
and `broker.p12` (key and chain for the broker, PKCS#12 with a generated password, since
Kafka's Java reads no unencrypted PEM key). A later `stack up` reuses them.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

VALID_DAYS = 825  # what browsers and most TLS stacks still accept for a leaf certificate


@dataclass(frozen=True)
class BrokerTls:
    ca_file: Path
    keystore_file: Path
    keystore_password: str


def ensure_broker_tls(directory: Path, host: str) -> BrokerTls:
    """The CA and broker keystore under `directory`, made on first use."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, keystore_file, password_file = (
        directory / "ca.pem",
        directory / "broker.p12",
        directory / "broker.password",
    )
    if not (ca_file.exists() and keystore_file.exists() and password_file.exists()):
        _generate(directory, host, ca_file, keystore_file, password_file)
    return BrokerTls(ca_file, keystore_file, password_file.read_text().strip())


def _generate(directory: Path, host: str, ca_file: Path, keystore_file: Path, password_file: Path) -> None:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "journey-telemetry local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(24)
    keystore = pkcs12.serialize_key_and_certificates(
        b"broker", broker_key, broker_cert, [ca_cert], serialization.BestAvailableEncryption(password.encode())
    )
    for path, content in ((keystore_file, keystore), (password_file, password.encode()),
                          (ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))):  # fmt: skip
        path.write_bytes(content)
        path.chmod(0o600 if path != ca_file else 0o644)
