"""A service's keys on the controller, for `endpoint.auth: key` (Azure ML's `auth_mode: key`).

Two keys, primary and secondary, so that one can be regenerated while clients still use the other.
They are made here, kept only in the file the spec names (`endpoint.keys_file`), and reach the nodes as
sha256 hashes: the node front checks the hash of what a client sends. The file's format is the one
`fleetdeploy serve --auth-key-file` reads (fleetdeploy/serve/auth.py), so the same file serves a local
server:

    primary   <key>
    secondary <key>
    metrics   <token>      (endpoint.metrics_token: true only)

The metrics token opens `GET /metrics` alone, for a Prometheus scraper that must not be able to score.
It is mode 0600, or vault-encrypted (ansible-vault encrypt): then it is read and written again with the
vault password the command was given.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.private_files import write_private
from fleetdeploy.vault import decrypted, encrypted, is_vaulted

KEY_NAMES = ("primary", "secondary")
TOKEN_NAMES = (*KEY_NAMES, "metrics")  # what the file may hold; `metrics` only with endpoint.metrics_token
_KEY_BYTES = 32  # 256 bits, as url-safe base64: 43 characters


@dataclass(frozen=True)
class ServiceKeys:
    primary: str
    secondary: str
    metrics: str | None = None

    def get(self, which: str) -> str | None:
        return getattr(self, which)

    def names(self) -> list[str]:
        return [name for name in TOKEN_NAMES if self.get(name) is not None]

    def hashes(self) -> list[str]:
        """What the nodes keep: the sha256 (hex) of each key, in the order primary, secondary."""
        return [_sha256(key) for key in (self.primary, self.secondary)]

    def metrics_hashes(self) -> list[str]:
        """The metrics token's sha256, or nothing when the file holds none."""
        return [_sha256(self.metrics)] if self.metrics is not None else []


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(_KEY_BYTES)


def read_keys(path: Path) -> ServiceKeys:
    """The keys in `path`; ConfigError naming the file (and line) for anything else."""
    where = f"endpoint.keys_file {path}"
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: no such file; the first `fleetdeploy apply` with endpoint.auth: key makes it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it: {exc.strerror}") from None
    vaulted = is_vaulted(data)
    if not vaulted and mode & 0o077:
        raise ConfigError(
            f"{where}: other users can read it (mode {mode:04o}): chmod 600 {path}, or vault-encrypt it "
            "(ansible-vault encrypt)"
        )
    text = (decrypted(data, where, "the file") if vaulted else data).decode("utf-8", "replace")
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2 or words[0] not in TOKEN_NAMES or words[1].startswith("sha256:"):
            raise ConfigError(f"{where}:{number}: expected '<primary|secondary|metrics> <key>'")
        if words[0] in found:
            raise ConfigError(f"{where}:{number}: {words[0]} is given twice")
        found[words[0]] = words[1]
    missing = [name for name in KEY_NAMES if name not in found]
    if missing:
        raise ConfigError(
            f"{where}: no {' and no '.join(missing)} key: `fleetdeploy keys regenerate --which "
            f"{missing[0]}` makes one"
        )
    return ServiceKeys(**found)


def ensure_keys(path: Path, *, metrics: bool = False) -> tuple[ServiceKeys, list[str]]:
    """The keys in `path`: both keys made when the file does not exist yet, and a metrics token added when
    `metrics` asks for one the file lacks; also the names of those made."""
    if not path.exists():
        keys = ServiceKeys(new_key(), new_key(), new_key() if metrics else None)
        write_keys(path, keys, vaulted=False)
        return keys, keys.names()
    keys = read_keys(path)
    if metrics and keys.metrics is None:
        keys = replace(keys, metrics=new_key())
        write_keys(path, keys, vaulted=is_vaulted(path.read_bytes()))
        return keys, ["metrics"]
    return keys, []


def regenerate(path: Path, which: str) -> ServiceKeys:
    """A new `which` key (primary, secondary or the metrics token) in `path`, the others kept; the file stays
    vaulted if it was."""
    if which not in TOKEN_NAMES:
        raise ConfigError(f"--which: {which!r} is not a key name; use primary, secondary or metrics")
    keys = read_keys(path) if path.exists() else ServiceKeys(new_key(), new_key())
    keys = replace(keys, **{which: new_key()})
    write_keys(path, keys, vaulted=path.exists() and is_vaulted(path.read_bytes()))
    return keys


def write_keys(path: Path, keys: ServiceKeys, *, vaulted: bool) -> None:
    """Whole or not at all, mode 0600 from the start."""
    text = "".join(f"{name:<9} {keys.get(name)}\n" for name in keys.names())
    write_private(path, encrypted(text, f"endpoint.keys_file {path}") if vaulted else text.encode())
