"""Files that hold a secret on the controller: for the life of one command (`private_file`: a typed vault
or become password, the entry script's secrets; each in its own 0700 folder under the temporary
directory, never a run folder, which is kept; 0600 itself, removed when the process ends), or kept
(`write_private`: a service's keys, the fleet CA's keys)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def private_file(name: str, text: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fleetdeploy-private-"))  # 0700, this user's only
    atexit.register(shutil.rmtree, folder, True)
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


def write_private(path: Path, data: bytes) -> None:
    """`path` (its folder made 0700 when missing) holds `data`, mode 0600 from the first byte (never
    readable by others, even for a moment), whole or not at all: written beside it, flushed, renamed over."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a temporary file left by a crash keeps its old mode under O_TRUNC
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
