"""Telling a stale lock holder from a live one, and the controller's own lock."""

import os
import socket
import subprocess

import pytest

from fleetdeploy.deploy.lock import LockHeld, describe, is_stale, local_lock, new_holder


def test_a_holder_whose_process_is_gone_on_this_controller_is_stale():
    child = subprocess.Popen(["true"])
    child.wait()
    holder = {**new_holder("apply"), "pid": child.pid}
    assert is_stale(holder)


def test_a_live_holder_is_not_stale():
    assert not is_stale(new_holder("apply"))


def test_a_holder_on_another_controller_is_never_taken_over():
    assert not is_stale({**new_holder("apply"), "controller": socket.gethostname() + "-other", "pid": 999999})


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
