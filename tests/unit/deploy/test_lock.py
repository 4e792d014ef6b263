"""The lock holder's description, and the controller's own lock (a stale holder is taken over by
roles/fleet_lock: tests/integration/test_lock_role.py)."""

import os
import socket

import pytest

from fleetdeploy.deploy.lock import LockHeld, describe, local_lock, new_holder


def test_the_holder_is_described_by_who_what_and_since():
    text = describe(new_holder("rollback", "abc"))
    assert f"@{socket.gethostname()}" in text and "rollback" in text and f"pid {os.getpid()}" in text


def test_the_local_lock_refuses_a_second_run_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path))
    # flock is per open file description: a second open in this process conflicts like another run.
    refused = pytest.raises(LockHeld, match="another fleetdeploy run on this machine is deploying mnist")
    with local_lock("mnist", wait=0), refused, local_lock("mnist", wait=0.6):
        pass
    with local_lock("mnist", wait=0):
        pass
