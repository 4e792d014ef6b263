"""The entry script's secrets on the controller: their values read from where the spec says, a keyed
digest of them for the release identity, and the one file that carries them to the nodes.

The values go nowhere else: not into extra vars (ansible-runner writes those into the run folder), not
into the release manifest, the history or any output. The file lives in a private folder for the life
of this process. The release id must change when a secret does (so a rotation rolls out like any
release) without letting anyone who sees release ids test guesses of a value: it takes an HMAC with a
key kept on the controller (`fleet.key` in the data home, 0600; FLEETDEPLOY_FLEET_KEY_FILE names
another, so that several controllers of one fleet agree on release ids).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.paths import data_home
from fleetdeploy.private_files import private_file
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.secrets import SecretRef
from fleetdeploy.vault import decrypted, is_vaulted

KEY_FILE_ENV = "FLEETDEPLOY_FLEET_KEY_FILE"
_SYSTEMD_ESCAPE = re.compile(r'[\\"$`]')


def secret_values(spec: Spec) -> dict[str, str]:
    """Each secret's value, read now; a ConfigError names the secret and its source when one cannot be."""
    return {name: _value(name, ref) for name, ref in sorted(spec.secrets.items())}


def secrets_identity(values: dict[str, str]) -> dict:
    """What the release identity (and the manifest, status, history) records of the secrets: their
    names and an HMAC of names and values. Empty when there are none."""
    if not values:
        return {}
    payload = json.dumps(values, sort_keys=True, separators=(",", ":")).encode()
    digest = hmac.new(fleet_key(), payload, hashlib.sha256).hexdigest()[:32]
    return {"names": sorted(values), "hmac": digest}


def fleet_key() -> bytes:
    """The controller's key for secrets digests, made on first use."""
    given = os.environ.get(KEY_FILE_ENV)
    path = Path(given) if given else data_home() / "fleet.key"
    if given and not path.is_file():
        raise ConfigError(f"{KEY_FILE_ENV}: {path} is not a file")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(os.urandom(32).hex() + "\n")
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path}: a fleet key is at least 32 characters (fleetdeploy writes 64 hex digits)")
    return key.encode()


def write_secrets_file(values: dict[str, str], *, systemd: bool = False) -> Path | None:
    """The values in a 0600 file in a private folder removed when this process ends (never under a run
    folder): one JSON object for the scoring server to read (docker runtime), or, with `systemd`, a
    systemd EnvironmentFile (venv and conda runtimes). None when there are no secrets."""
    if not values:
        return None
    if systemd:
        return private_file("secrets.env", systemd_environment_file(values))
    return private_file("secrets.json", json.dumps(values, sort_keys=True))


def systemd_environment_file(values: dict[str, str]) -> str:
    """NAME="value" lines that systemd's EnvironmentFile= reads back as written: inside double quotes it
    keeps newlines and takes a backslash before \\ " $ ` as that character (no $VAR expansion then)."""
    lines = [name + '="' + _SYSTEMD_ESCAPE.sub(r"\\\g<0>", value) + '"' for name, value in sorted(values.items())]
    return "\n".join(lines) + "\n"


def _value(name: str, ref: SecretRef) -> str:
    where = f"secrets.{name}"
    if ref.env is not None:
        if ref.env not in os.environ:
            raise ConfigError(f"{where}: environment variable {ref.env} is not set on this controller")
        return os.environ[ref.env]
    if ref.file is not None:
        try:
            data = ref.file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {ref.file}: {exc.strerror}") from None
        text = decrypted(data, where, f"file {ref.file}") if is_vaulted(data) else data
        return _text(text, where).removesuffix("\n")
    return _text(decrypted(ref.vault.encode(), where, "its !vault value"), where)


def _text(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text (an environment variable holds text)") from None
    if "\0" in text:
        raise ConfigError(f"{where}: holds a NUL byte, which no environment variable can")
    return text
