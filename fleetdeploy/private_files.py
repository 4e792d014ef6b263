"""Files that hold a secret on the controller for the life of one command: a typed vault or become
password, the entry script's secrets. Each in its own 0700 folder under the temporary directory (never
a run folder, which is kept), 0600 itself, removed when the process ends."""

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
