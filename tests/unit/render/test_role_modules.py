"""The pure parts of fleetdeploy's own Ansible modules (the rest runs on the sandbox in tests/e2e)."""

import json

import pytest

from tests.unit.role_modules import role_module


@pytest.fixture(scope="module")
def parity():
    return role_module("fleet_front", "fleet_parity")


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
    prune = role_module("fleet_service", "fleet_prune_releases")
    manifests = {rid: {"mtime": mtime} for rid, mtime in (("old", 1), ("mid", 2), ("new", 3), ("serving", 0))}
    kept, removed = prune.plan(manifests, keep=2, protect={"serving"})
    assert kept == ["serving", "new"] and removed == ["mid", "old"]


def test_prune_takes_the_secrets_of_removed_releases_only(tmp_path):
    prune = role_module("fleet_service", "fleet_prune_releases")
    for name in ("serving.json", "new.env", "old.json", "older.env"):
        (tmp_path / name).write_text("{}")
    assert prune.stale_release_files(str(tmp_path), ["serving", "new"]) == ["old.json", "older.env"]
    assert prune.stale_release_files(str(tmp_path / "none"), ["serving"]) == []


def test_prune_takes_the_completion_markers_of_the_folders_it_removes(tmp_path):
    # A marker left behind made a later deploy of a pruned release skip its copy and start without score.py.
    prune = role_module("fleet_service", "fleet_prune_releases")
    digest = "0123456789abcdef"
    for name in (
        "code-aaa.done",
        "code-bbb.done",
        f"model-mnist-1-{digest}.done",
        f"model-mnist-2-{digest}.done",
        f"model-mnist-1-1-{digest}.done",  # model "mnist-1" version 1: not mnist version 1's
        "history.jsonl",
    ):
        (tmp_path / name).write_text("")
    assert prune.stale_markers(str(tmp_path), ["aaa"], ["mnist/1"]) == ["code-aaa.done", f"model-mnist-1-{digest}.done"]
    assert prune.stale_markers(str(tmp_path / "none"), ["aaa"], []) == []


def test_lock_is_taken_once_and_only_given_back_by_its_holder(tmp_path):
    lock = role_module("fleet_lock", "fleet_lock")
    path = str(tmp_path / "state" / "lock")
    assert lock._take(path, {"run_id": "a"}, "") == (True, {"run_id": "a"})
    assert lock._take(path, {"run_id": "b"}, "") == (False, {"run_id": "a"})
    assert lock._take(path, {"run_id": "a"}, "")[0]  # re-entry by the same run
    assert lock._take(path, {"run_id": "b"}, "x,a") == (True, {"run_id": "b"})  # stale holder a broken
    assert json.loads((tmp_path / "state" / "lock" / "holder.json").read_text()) == {"run_id": "b"}


class FakeFront:
    """HAProxy's admin socket as far as fleet_front_switch uses it: `show stat` CSV, `set server` lines."""

    HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status"

    def __init__(self, states):
        self.states = dict(states)
        self.lines = []

    def exchange(self, path, line):
        if line == "show stat":
            rows = [f"svc,{name},0,0,0,0,,0,0,0,,0,,0,0,0,0,{status}" for name, status in self.states.items()]
            return "\n".join([self.HEADER, "svc,FRONTEND,,,0,0,,0,0,0,0,0,0,,,,,OPEN", *rows]) + "\n"
        self.lines.append(line)
        for command in line.split("; "):
            _, _, server, _, state = command.split()
            self.states[server.split("/")[1]] = {"ready": "no check", "drain": "DRAIN", "maint": "MAINT"}[state]
        return "\n"


@pytest.mark.parametrize(
    "before, to, sent, after",
    [
        # A fresh front (both slots disabled in its config): the first release is made ready; the other
        # slot is left in maintenance, not drained (draining would take it out of maintenance).
        ({"blue": "MAINT", "green": "MAINT"}, "blue", ["set server svc/blue state ready"], {"blue": "no check", "green": "MAINT"}),
        # A switch: one line moves new requests and drains the old slot, then it goes into maintenance.
        (
            {"blue": "no check", "green": "MAINT"},
            "green",
            ["set server svc/green state ready; set server svc/blue state drain", "set server svc/blue state maint"],
            {"blue": "MAINT", "green": "no check"},
        ),
        # Already in place: nothing is sent.
        ({"blue": "no check", "green": "MAINT"}, "blue", [], {"blue": "no check", "green": "MAINT"}),
        # A switch interrupted while draining: only the maintenance is left to do.
        ({"blue": "DRAIN", "green": "no check"}, "green", ["set server svc/blue state maint"], {"blue": "MAINT", "green": "no check"}),
    ],
)
def test_front_switch_sends_only_what_is_missing(monkeypatch, before, to, sent, after):
    switch = role_module("fleet_front", "fleet_front_switch")
    front = FakeFront(before)
    monkeypatch.setattr(switch, "_exchange", front.exchange)
    old = "green" if to == "blue" else "blue"
    params = {"socket": "/x", "backend": "svc", "to": to, "from_server": old, "drain_timeout": 1}
    switch.switch(params, check_mode=False)
    assert front.lines == sent
    assert front.states == after


def test_front_switch_record_keeps_a_repeated_switch_byte_for_byte(tmp_path):
    switch = role_module("fleet_front", "fleet_front_switch")
    state = tmp_path / "active.json"
    record = {"service": "svc", "release": "r1", "slot": "blue", "runtime": "docker", "instance": "svc-blue"}
    first, changed = switch.record({"state_file": str(state), "record": record}, check_mode=False)
    assert changed and first["previous"] is None and first["switched_at"]
    text = state.read_text()
    again, changed = switch.record({"state_file": str(state), "record": record}, check_mode=False)
    assert not changed and state.read_text() == text and again == first
    moved = {**record, "release": "r2", "slot": "green", "instance": "svc-green"}
    second, changed = switch.record({"state_file": str(state), "record": moved}, check_mode=False)
    assert changed and second["previous"] == "r1" and json.loads(state.read_text()) == second
