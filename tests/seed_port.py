"""Port 6789 on 127.0.0.1, where the seed's client script sends its request (`http://localhost:6789/score`,
unchangeable): the e2e relay to a node and the seed's LocalWebservice both listen there. Tests on
different xdist workers take turns through a lock file."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path

SEED_PORT = 6789
_LOCK = Path(tempfile.gettempdir()) / "fleetdeploy-tests-port-6789.lock"


@contextlib.contextmanager
def seed_port() -> Iterator[int]:
    """Holds port 6789 for this test until the block ends (waits while another worker has it)."""
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield SEED_PORT
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
