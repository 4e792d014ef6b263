"""The entry script's secrets in the docker runtime, handed to the server as a file and put into its
environment at start, before any worker forks, so `os.environ["NAME"]` in init() and run() sees them.

A file, not the container's environment: Docker copies a container's environment into its config,
which `docker inspect` shows to anyone in the docker group. The docker runtime mounts the release's file
read-only and names it in FLEETDEPLOY_SECRETS_FILE. (The venv and conda runtimes need none of this:
systemd reads their root-only EnvironmentFile itself.) The file is one JSON object of names to strings.
Nothing here logs a value.
"""

import json
import os
from collections.abc import MutableMapping
from pathlib import Path

from fleetdeploy.errors import ConfigError

FILE_VARIABLE = "FLEETDEPLOY_SECRETS_FILE"


def load_secrets(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Put the file's values into `environ`; the names loaded (none without a file)."""
    if not environ.get(FILE_VARIABLE):
        return []
    path = Path(environ[FILE_VARIABLE])
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{FILE_VARIABLE}: cannot read the secrets file {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{FILE_VARIABLE}: {path} is not a JSON object of names to strings") from None
    if not isinstance(values, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in values.items()
    ):
        raise ConfigError(f"{FILE_VARIABLE}: {path} is not a JSON object of names to strings")
    environ.update(values)
    return sorted(values)
