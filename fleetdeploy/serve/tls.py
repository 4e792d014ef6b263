"""TLS for `fleetdeploy serve --tls-cert --tls-key`: the server's context, with every problem a site's
files can have refused at start, naming the file (docs/serve.md, "TLS and keys").

Modern settings (Mozilla's "intermediate" profile): TLS 1.2 and 1.3 only, forward-secret AEAD ciphers
for 1.2 (1.3's suites are all of that kind), no compression, no renegotiation."""

import ssl
import time
from pathlib import Path

from fleetdeploy.errors import ConfigError

_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_context(cert: Path, key: Path, names: tuple[str, str] = ("--tls-cert", "--tls-key")) -> ssl.SSLContext:
    """The context both HTTP servers use; ConfigError when the files cannot serve, naming each file by
    `names` (the flags here; the inventory variables when apply checks a node front's pair)."""
    cert_name, key_name = names
    for name, path in ((cert_name, cert), (key_name, key)):
        if not path.is_file():
            raise ConfigError(f"{name}: {path} does not exist")
    mode = key.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{key_name}: {key} can be read by other users (mode {mode:04o}); a private key must be readable "
            f"by its owner alone: chmod 600 {key}"
        )
    expires = not_after(cert)
    if expires is not None and expires < time.time():
        raise ConfigError(f"{cert_name}: {cert} expired on {_day(expires)}; renew it")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(f"{key_name}: {key} is not the private key of the certificate {cert}") from None
        raise ConfigError(f"{cert_name}/{key_name}: cannot load {cert} with {key}: {exc.reason or exc}") from None
    return context


def not_after(cert: Path) -> float | None:
    """When the certificate expires (seconds since the epoch), or None if it cannot be read here."""
    try:
        # The ssl module's own decoder (what getpeercert() returns), without a connection; private, but
        # present in every CPython 3, and it spares the server image a dependency.
        decoded = ssl._ssl._test_decode_cert(str(cert))
    except (AttributeError, ssl.SSLError, OSError):
        return None
    return ssl.cert_time_to_seconds(decoded["notAfter"])


def days_left(cert: Path) -> int | None:
    expires = not_after(cert)
    return None if expires is None else int((expires - time.time()) // 86400)


def _day(seconds: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))
