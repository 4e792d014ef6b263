"""The pure parts of fleetdeploy's own Ansible modules (the rest runs on the sandbox in tests/e2e)."""

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from tests.unit.role_modules import node_layout, role_module


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


def test_lock_give_back_appends_the_runs_history_first(tmp_path):
    """The run's records reach the history in the give-back's own call, whoever holds the lock; the lock
    goes only for its holder."""
    lock = role_module("fleet_lock", "fleet_lock")
    path = str(tmp_path / "svc" / "state" / "lock")
    lock._take(path, {"run_id": "a"}, "")
    records = [{"action": "apply", "result": "ok"}, {"action": "rollback", "result": "ok"}]
    assert lock._give_back(path, {"run_id": "b"}, records[:1]) == (False, {"run_id": "a"}, 1)
    assert lock._give_back(path, {"run_id": "a"}, records[1:]) == (True, {"run_id": "a"}, 1)
    history = (tmp_path / "svc" / "state" / "history.jsonl").read_text().splitlines()
    assert [{k: v for k, v in json.loads(line).items() if k != "node_time"} for line in history] == records
    assert not (tmp_path / "svc" / "state" / "lock").exists()


def test_history_is_not_made_for_nothing(tmp_path):
    """A node that never had the service gets no folder just to say nothing was written."""
    layout = node_layout()
    assert layout.append_history(str(tmp_path / "svc"), []) == 0
    assert not (tmp_path / "svc").exists()
    assert layout.append_history(str(tmp_path / "svc"), [{"b": 1, "a": None}]) == 1
    line = json.loads((tmp_path / "svc" / "state" / "history.jsonl").read_text())
    assert line.pop("node_time").endswith("Z")  # the node's own clock, beside the controller's `time`
    assert line == {"a": None, "b": 1}
    assert oct((tmp_path / "svc" / "state").stat().st_mode & 0o777) == "0o755"


def flushes(monkeypatch, layout) -> list:
    """What fleet_layout flushes to disk, in order: ("file", path) or ("folder", path)."""
    seen, fsync = [], layout.os.fsync

    def recorded(fd):
        path = layout.os.readlink(f"/proc/self/fd/{fd}")
        seen.append(("folder" if layout.os.path.isdir(path) else "file", path))
        fsync(fd)

    monkeypatch.setattr(layout.os, "fsync", recorded)
    return seen


def test_a_record_is_flushed_before_its_rename_and_the_rename_after(monkeypatch, tmp_path):
    layout = node_layout()
    seen = flushes(monkeypatch, layout)
    target = tmp_path / "active.json"
    target.write_text("old")
    renames, rename = [], layout.os.rename
    monkeypatch.setattr(layout.os, "rename", lambda a, b: (renames.append(len(seen)), rename(a, b)))
    layout.write_durably(str(target), b"new", 0o640)
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == "0o640"
    assert [kind for kind, _ in seen] == ["file", "folder"] and seen[1][1] == str(tmp_path)
    assert renames == [1], "the content reached the disk before the rename, the folder after it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["active.json"]


def test_a_refused_record_leaves_the_old_one_and_no_temporary_file(tmp_path):
    layout = node_layout()
    target = tmp_path / "front.cfg"
    target.write_text("old")

    def refuse(tmp):
        assert Path(tmp).read_text() == "bad"
        raise ValueError("HAProxy refuses it")

    with pytest.raises(ValueError, match="refuses"):
        layout.write_durably(str(target), b"bad", check=refuse)
    assert [p.name for p in tmp_path.iterdir()] == ["front.cfg"] and target.read_text() == "old"


def test_a_link_is_replaced_in_one_rename_and_flushed(monkeypatch, tmp_path):
    layout = node_layout()
    seen = flushes(monkeypatch, layout)
    link = tmp_path / "current"
    link.symlink_to("releases/a.json")
    layout.replace_link(str(link), "releases/b.json")
    assert layout.os.readlink(link) == "releases/b.json" and seen == [("folder", str(tmp_path))]
    assert [p.name for p in tmp_path.iterdir()] == ["current"]


def test_history_lines_reach_the_disk_before_the_call_returns(monkeypatch, tmp_path):
    layout = node_layout()
    seen = flushes(monkeypatch, layout)
    layout.append_history(str(tmp_path / "svc"), [{"a": 1}])
    state = tmp_path / "svc" / "state"
    # The new file, the folder that now names it, and the folder made for it.
    assert seen == [("file", str(state / "history.jsonl")), ("folder", str(state)), ("folder", str(state.parent))]
    seen.clear()
    layout.append_history(str(tmp_path / "svc"), [{"a": 2}])
    assert seen == [("file", str(state / "history.jsonl"))]


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


class _SwitchModule:
    """What fleet_front_switch's run() asks of AnsibleModule: params, and run_command (`haproxy -c`, the
    `after` command), whose argv it keeps; `failing` commands exit 1."""

    def __init__(self, params, failing=()):
        self.params, self.failing, self.ran = params, failing, []

    def run_command(self, argv):
        self.ran.append(argv)
        return (1, "", "no such container") if argv[0] in self.failing else (0, "", "")


def _switch_params(tmp_path, to="green"):
    record = {"service": "svc", "release": "r2", "slot": to, "runtime": "docker", "instance": f"svc-{to}"}
    return {
        "socket": "/x", "backend": "svc", "to": to, "from_server": "blue", "drain_timeout": 1, "record": record,
        "state_file": str(tmp_path / "active.json"), "config": "global\n", "config_path": str(tmp_path / "svc.cfg"),
        "haproxy": "/bin/true", "current_link": str(tmp_path / "current"), "current_target": "releases/r2.json",
        "in_progress": str(tmp_path / "switching"),
    }


def test_front_switch_leaves_its_marker_only_when_cut_short(monkeypatch, tmp_path):
    """The marker tells the next deploy to make the front match the record: gone after a whole switch,
    left when the front refused a command midway (as a killed controller or node would leave it)."""
    switch = role_module("fleet_front", "fleet_front_switch")
    front = FakeFront({"blue": "no check", "green": "MAINT"})
    monkeypatch.setattr(switch, "_exchange", front.exchange)
    progress = {"commands": [], "steps": []}
    active = switch.run(_SwitchModule(_switch_params(tmp_path)), False, progress)
    assert active["slot"] == "green" and progress["steps"] == ["switch", "record", "config", "current"]
    assert not (tmp_path / "switching").exists()

    def refuse(path, line):
        raise switch.FrontError("the front refused")

    monkeypatch.setattr(switch, "_exchange", refuse)
    with pytest.raises(switch.FrontError):
        switch.run(_SwitchModule(_switch_params(tmp_path, to="blue")), False, {"commands": [], "steps": []})
    assert (tmp_path / "switching").read_text() == "blue\n"
    assert json.loads((tmp_path / "active.json").read_text())["slot"] == "green"


@pytest.fixture(scope="module")
def reach():
    return role_module("fleet_rollout", "fleet_reach")


RECORD = {"desired": "d1", "active": "a1", "config": "c1", "runtime": "docker", "instance": "fd-mnist-blue"}
SUMS = {"active": "a1", "config": "c1"}


def test_reach_finds_the_node_there_when_every_check_holds(reach):
    assert reach.why_not_there(RECORD, "d1", SUMS, "front", lambda kind, name: True) == reach.DEPLOYED


@pytest.mark.parametrize(
    ("desired", "sums", "running", "reason"),
    [
        ("", SUMS, set(), "no record of a deploy to compare"),
        ("d2", SUMS, set(), "the wanted release or settings differ"),
        ("d1", {"active": "a2", "config": "c1"}, set(), "the active slot record changed"),
        ("d1", {"active": "a1", "config": ""}, set(), "the front's config changed"),
        ("d1", SUMS, set(), "the front does not run"),
        ("d1", SUMS, {("unit", "front")}, "fd-mnist-blue does not run"),
    ],
)
def test_reach_names_the_first_reason_the_node_is_not_there(reach, desired, sums, running, reason):
    assert reach.why_not_there(RECORD, desired, sums, "front", lambda kind, name: (kind, name) in running) == reason


def test_reach_asks_systemd_for_a_native_instance(reach):
    native = {**RECORD, "runtime": "venv", "instance": "fleetdeploy-mnist@blue.service"}
    asked = []
    reach.why_not_there(native, "d1", SUMS, "front", lambda kind, name: asked.append((kind, name)) or True)
    assert asked == [("unit", "front"), ("unit", "fleetdeploy-mnist@blue.service")]


def test_reach_reads_the_record_lines(reach, tmp_path):
    record = tmp_path / "deployed"
    record.write_text("desired d1\nactive a1\ninstance fleetdeploy-mnist-blue\n")
    assert reach.read_record(str(record)) == {"desired": "d1", "active": "a1", "instance": "fleetdeploy-mnist-blue"}
    assert reach.read_record(str(tmp_path / "missing")) == {}


def test_front_switch_runs_the_after_command_once_the_switch_is_recorded(monkeypatch, tmp_path):
    """What served before is stopped in the switch's own call; if that fails, the switch stays recorded
    and the failure names the command."""
    switch = role_module("fleet_front", "fleet_front_switch")
    monkeypatch.setattr(switch, "_exchange", FakeFront({"blue": "no check", "green": "MAINT"}).exchange)
    stop = ["docker", "stop", "--time", "40", "svc-blue"]
    module = _SwitchModule({**_switch_params(tmp_path), "after": stop})
    progress = {"commands": [], "steps": []}
    switch.run(module, False, progress)
    assert module.ran[-1] == stop and progress["steps"][-1] == "after"

    monkeypatch.setattr(switch, "_exchange", FakeFront({"blue": "MAINT", "green": "no check"}).exchange)
    failing = _SwitchModule({**_switch_params(tmp_path, to="blue"), "after": stop}, failing=("docker",))
    with pytest.raises(switch.FrontError, match="switched, then `docker stop --time 40 svc-blue` failed"):
        switch.run(failing, False, {"commands": [], "steps": []})
    assert json.loads((tmp_path / "active.json").read_text())["slot"] == "blue"
    assert not (tmp_path / "switching").exists()


def _break_stale_lock(path: str, run_id: str, start, results) -> None:
    """One run taking over the stale lock of run "gone"; reading the holder is made slow, so without the
    guard both runs would read "gone" before either wrote itself."""
    lock = role_module("fleet_lock", "fleet_lock")
    read = lock._holder

    def slow_holder(folder):
        found = read(folder)
        time.sleep(0.3)
        return found

    lock._holder = slow_holder
    start.wait()
    results.put((run_id, lock._take(path, {"run_id": run_id}, "gone")[0]))


def test_two_runs_breaking_the_same_stale_lock_leave_one_winner_named_in_the_lock(tmp_path):
    lock = role_module("fleet_lock", "fleet_lock")
    path = str(tmp_path / "state" / "lock")
    lock._take(path, {"run_id": "gone"}, "")
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    runs = [context.Process(target=_break_stale_lock, args=(path, run_id, start, results)) for run_id in "ab"]
    for run in runs:
        run.start()
    start.set()
    for run in runs:
        run.join(10)
    won = [run_id for run_id, taken in (results.get(timeout=5) for _ in runs) if taken]
    assert len(won) == 1, won
    assert json.loads((tmp_path / "state" / "lock" / "holder.json").read_text()) == {"run_id": won[0]}
    assert sorted(os.listdir(tmp_path / "state")) == ["lock"]  # the guard leaves no file of its own


def test_new_key_hashes_replace_the_running_acl_in_one_commit(tmp_path):
    keys = role_module("fleet_front", "fleet_front_keys")
    (tmp_path / "admin.sock").touch()
    sent = []

    def exchange(_socket, line):
        sent.append(line)
        return "New version created: 7\n" if line.startswith("prepare") else "\n"

    assert keys.update_running(str(tmp_path / "admin.sock"), "/etc/f/mnist.keys", ["a" * 64, "b" * 64], exchange)
    assert sent == [
        "prepare acl /etc/f/mnist.keys",
        f"add acl @7 /etc/f/mnist.keys {'a' * 64}",
        f"add acl @7 /etc/f/mnist.keys {'b' * 64}",
        "commit acl @7 /etc/f/mnist.keys",
    ]


def test_a_front_without_the_keys_acl_or_not_running_is_left_to_its_config(tmp_path):
    keys = role_module("fleet_front", "fleet_front_keys")
    assert not keys.update_running(str(tmp_path / "none.sock"), "/k", ["a" * 64], lambda *_: "")
    (tmp_path / "admin.sock").touch()
    def unknown(_socket, _line):
        return "Unknown ACL identifier. Please use #<id> or <file>.\n"

    assert not keys.update_running(str(tmp_path / "admin.sock"), "/k", ["a" * 64], unknown)
