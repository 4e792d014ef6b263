"""The pure parts of fleetdeploy's own Ansible modules (the rest runs on the sandbox in tests/e2e)."""

import importlib.util
import json
from pathlib import Path

import pytest

ROLES = Path(__file__).resolve().parents[3] / "roles"


def _module(role, name):
    spec = importlib.util.spec_from_file_location(name, ROLES / role / "library" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parity():
    return _module("fleet_front", "fleet_parity")


def test_parity_accepts_numbers_within_tolerance(parity):
    assert parity.differences({"p": [0.1, 0.9]}, {"p": [0.1000001, 0.9]}, 1e-6, 0) == []


def test_parity_names_the_path_of_each_difference(parity):
    found = parity.differences({"p": [0.1, 0.9], "label": 2}, {"p": [0.2, 0.9], "label": 3}, 1e-6, 0)
    assert found == ["$.label: 2 != 3", "$.p[0]: 0.1 != 0.2"]


def test_parity_reports_shape_changes(parity):
    assert parity.differences([1, 2], [1], 0, 0) == ["$: 2 items != 1 items"]
    assert parity.differences({"a": 1}, {"b": 1}, 0, 0) == [
        "$.a: only in one answer",
        "$.b: only in one answer",
    ]
    assert parity.differences(True, 1, 0, 0) == ["$: True != 1"]


def test_prune_keeps_the_protected_and_the_newest(tmp_path):
    prune = _module("fleet_service", "fleet_prune_releases")
    manifests = {rid: {"mtime": mtime} for rid, mtime in (("old", 1), ("mid", 2), ("new", 3), ("serving", 0))}
    kept, removed = prune.plan(manifests, keep=2, protect={"serving"})
    assert kept == ["serving", "new"] and removed == ["mid", "old"]


def test_lock_is_taken_once_and_only_given_back_by_its_holder(tmp_path):
    lock = _module("fleet_lock", "fleet_lock")
    path = str(tmp_path / "state" / "lock")
    assert lock._take(path, {"run_id": "a"}, "") == (True, {"run_id": "a"})
    assert lock._take(path, {"run_id": "b"}, "") == (False, {"run_id": "a"})
    assert lock._take(path, {"run_id": "a"}, "")[0]  # re-entry by the same run
    assert lock._take(path, {"run_id": "b"}, "x,a") == (True, {"run_id": "b"})  # stale holder a broken
    assert json.loads((tmp_path / "state" / "lock" / "holder.json").read_text()) == {"run_id": "b"}
