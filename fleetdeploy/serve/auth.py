"""Key auth for `fleetdeploy serve --auth-key-file`, as Azure ML endpoints have it (`auth_mode: key`):
two keys, primary and secondary, either of which opens every path but liveness (`GET /`), sent as
`Authorization: Bearer <key>`; and optionally a metrics token that opens `GET /metrics` alone.

The key file, one entry a line (`#` comments and blank lines ignored):

    primary   sha256:<64 hex digits>
    secondary sha256:<64 hex digits>
    metrics   sha256:<64 hex digits>

A value may also be the key itself; then the file must be readable by its owner alone. Only hashes need
to be on a server: it hashes what a client sends and compares in constant time. The file is read again
when it changes (checked at most once a second), so rotating one key needs no restart while the other
keeps working."""

import hashlib
import hmac
import os
import time
from pathlib import Path

from fleetdeploy.errors import ConfigError

KEY_NAMES = ("primary", "secondary")
METRICS_NAME = "metrics"
_HASHED = "sha256:"
_RECHECK = 1.0  # seconds between two looks at the file's modification time


def hash_key(key: str) -> str:
    """The form a server needs: `sha256:<hex>`."""
    return _HASHED + hashlib.sha256(key.encode()).hexdigest()


def parse_key_file(path: Path) -> dict[str, str]:
    """{name: sha256 hex} from the file; ConfigError naming the file and line for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise ConfigError(f"--auth-key-file: cannot read {path}: {exc.strerror}") from None
    hashes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"--auth-key-file: {path}:{number}"
        if len(words) != 2 or words[0] not in (*KEY_NAMES, METRICS_NAME):
            raise ConfigError(f"{where}: expected '<primary|secondary|metrics> <key or sha256:hex>'")
        name, value = words
        if name in hashes:
            raise ConfigError(f"{where}: {name} is given twice")
        if value.startswith(_HASHED):
            digest = value[len(_HASHED):].lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where}: {name}'s sha256 must be 64 hex digits")
        else:
            if mode & 0o077:
                raise ConfigError(
                    f"{where}: {name} is a plain key in a file other users can read (mode {mode:04o}): "
                    f"chmod 600 {path}, or keep only its hash there (sha256:...)"
                )
            digest = hash_key(value)[len(_HASHED):]
        hashes[name] = digest
    if not any(name in hashes for name in KEY_NAMES):
        raise ConfigError(f"--auth-key-file: {path} holds no primary or secondary key: auth would refuse everyone")
    return hashes


class KeyCheck:
    """Whether a request's Authorization header opens a path."""

    def __init__(self, path: Path):
        self._path = path
        self._hashes = parse_key_file(path)
        self._stamp = self._stat()
        self._next_look = time.monotonic() + _RECHECK

    def allows(self, authorization: str | None, metrics_only: bool) -> bool:
        self._refresh()
        if not authorization or not authorization.startswith("Bearer "):
            return False
        digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
        names = (*KEY_NAMES, METRICS_NAME) if metrics_only else KEY_NAMES
        # Every stored hash is compared, in constant time, so timing tells nothing about which one exists.
        matches = [hmac.compare_digest(digest, self._hashes[name]) for name in names if name in self._hashes]
        return any(matches)

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self._path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _refresh(self) -> None:
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + _RECHECK
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return
        try:
            self._hashes = parse_key_file(self._path)
        except ConfigError as exc:
            from fleetdeploy.serve.logs import LOG  # here: parse_key_file is also the CLI's, without logging

            LOG.error(f"keeping the keys loaded before: {exc}")
        self._stamp = stamp
