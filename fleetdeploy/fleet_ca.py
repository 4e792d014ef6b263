"""The fleet's own certificate authority, for `endpoint.tls: fleet-ca` (docs/security.md).

A site without a PKI of its own still gets TLS with hostname checking: fleetdeploy keeps a small CA on
the controller (`<data home>/ca/`, or `endpoint.ca_dir`) and issues each node a certificate whose names
(SANs) are its inventory name and its `ansible_host`, which is how clients reach it. Clients trust the CA
(`fleetdeploy ca export > fleet-ca.pem`); nothing is sent to any outside party.

    ca/ca.pem                 the CA certificate (10 years), for clients
    ca/ca.key                 its private key, 0600, never leaves this folder
    ca/nodes/<host>.pem       each node's certificate (NODE_DAYS), re-issued on apply when fewer than
    ca/nodes/<host>.key       RENEW_DAYS are left or its names changed; the key 0600

Keys are ECDSA P-256: small, fast handshakes, what every TLS client takes.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.private_files import write_private

CA_DAYS = 3650
NODE_DAYS = 90
RENEW_DAYS = 30


@dataclass(frozen=True)
class NodeCertificate:
    host: str
    cert: Path
    key: Path
    issued: bool  # made by this call (new, renewed, or its names changed)


def _crypto():
    # Imported when a CA is used: the rest of fleetdeploy does not need it loaded.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    return x509, hashes, serialization, ec, NameOID, ExtendedKeyUsageOID


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_pair(cert_path: Path, cert, key_path: Path, key) -> None:
    """The private key first (0600: write_private), then the certificate beside it (public), each whole."""
    serialization = _crypto()[2]
    write_private(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    temporary = cert_path.with_name(f".{cert_path.name}.tmp")
    temporary.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(temporary, cert_path)


class FleetCA:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def key_path(self) -> Path:
        return self.folder / "ca.key"

    def ensure(self) -> bool:
        """Make the CA when it does not exist yet; True when made."""
        if self.cert_path.exists() and self.key_path.exists():
            return False
        x509, hashes, _, ec, NameOID, _ = _crypto()
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fleetdeploy"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"fleetdeploy fleet CA ({os.uname().nodename})"),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_pair(self.cert_path, cert, self.key_path, key)
        return True

    def node_certificate(self, host: str, names: list[str], *, days: int = NODE_DAYS) -> NodeCertificate:
        """The node's certificate for `names` (DNS names or IP addresses), issued when it has none, fewer
        than RENEW_DAYS left, or other names."""
        cert_path, key_path = self.folder / "nodes" / f"{host}.pem", self.folder / "nodes" / f"{host}.key"
        if key_path.exists() and cert_path.exists() and not self._needs_issue(cert_path, names):
            return NodeCertificate(host, cert_path, key_path, issued=False)
        x509, hashes, _, ec, NameOID, ExtendedKeyUsageOID = _crypto()
        ca_key, ca_cert = self._load()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # Valid from a day back: a client whose clock runs behind the controller's still accepts it.
            .not_valid_before(min(now, now + datetime.timedelta(days=days)) - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_pair(cert_path, cert, key_path, key)
        return NodeCertificate(host, cert_path, key_path, issued=True)

    def _load(self):
        x509, _, serialization, _, _, _ = _crypto()
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"fleet CA {self.folder}: cannot read its certificate and key: {exc}") from None
        return key, cert

    def _needs_issue(self, cert_path: Path, names: list[str]) -> bool:
        x509 = _crypto()[0]
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (OSError, ValueError, x509.ExtensionNotFound):
            return True
        wanted = {str(_general_name(name).value) for name in names}
        have = {str(item.value) for item in present}
        left = cert.not_valid_after_utc - _now()
        return wanted != have or left < datetime.timedelta(days=RENEW_DAYS)


def _general_name(name: str):
    x509 = _crypto()[0]
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def node_names(host: str, address: str, urls: list[str] = ()) -> list[str]:
    """What a node's certificate names: its inventory name, the address Ansible reaches it at, and the
    host of each scoring URL the inventory gives it (how clients reach it)."""
    from urllib.parse import urlsplit

    found = [host, address, *(urlsplit(url).hostname or "" for url in urls)]
    return [name for name in dict.fromkeys(found) if name]
