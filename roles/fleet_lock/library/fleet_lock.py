#!/usr/bin/python
# The deploy lock of one service on one node: a directory (mkdir is atomic) holding who took it. Every
# change to it (take, take over a stale holder, give back) happens under a kernel lock on the folder that
# holds it (flock on the state folder: no file of its own to leave behind), so reading the holder and
# replacing or removing it is one step: two runs breaking the same stale lock at once cannot both win,
# nor leave holder.json naming the one that lost.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_lock
short_description: Take or give back a fleetdeploy service's deploy lock on a node
options:
  path: {type: path, required: true, description: The lock directory (/opt/fleetdeploy/<service>/state/lock).}
  state: {type: str, default: present, choices: [present, absent], description: Take (present) or give back.}
  holder: {type: dict, required: true, description: Who takes it; must include run_id.}
  wait: {type: int, default: 0, description: Seconds to wait for another holder to give it back.}
  break_run: {type: str, default: "", description: Comma-separated run_ids of holders whose lock may be taken over (stale).}
  history:
    type: list
    elements: dict
    default: []
    description: On give-back, records appended to the service's history first (the run's outcome), in the same call.
author: fleetdeploy
"""

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.fleet_layout import append_history, write_durably


def _holder(path):
    try:
        with open(os.path.join(path, "holder.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _write(path, holder):
    write_durably(os.path.join(path, "holder.json"), json.dumps(holder, sort_keys=True).encode())


@contextmanager
def _guarded(path):
    """One change to the lock at a time on this node (the kernel drops the guard if the module dies)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _take(path, holder, break_run):
    """(taken, current holder)."""
    with _guarded(path):
        return _take_guarded(path, holder, break_run)


def _take_guarded(path, holder, break_run):
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        current = _holder(path)
        if current.get("run_id") == holder["run_id"]:
            return True, current
        if current.get("run_id") and current.get("run_id") in break_run.split(","):
            _write(path, holder)
            return True, holder
        return False, current
    _write(path, holder)
    return True, holder


def _give_back(path, holder, history):
    """Appends `history` to the service's history (<service>/state/history.jsonl, whoever holds the lock),
    then removes the lock if `holder` holds it. Returns (given back, the holder found, records written)."""
    recorded = append_history(os.path.dirname(os.path.dirname(path)), history)
    with _guarded(path):
        return _give_back_guarded(path, holder, recorded)


def _give_back_guarded(path, holder, recorded):
    current = _holder(path)
    # run_id "*" is `fleetdeploy unlock`: the holder is gone for good, whoever it was.
    mine = os.path.isdir(path) and current.get("run_id") in (holder["run_id"], "", None) or (
        os.path.isdir(path) and holder["run_id"] == "*"
    )
    if mine:
        shutil.rmtree(path, ignore_errors=True)
    return mine, current, recorded


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            holder=dict(type="dict", required=True),
            wait=dict(type="int", default=0),
            break_run=dict(type="str", default=""),
            history=dict(type="list", elements="dict", default=[]),
        ),
    )
    p = module.params
    path, holder = p["path"], p["holder"]
    if p["state"] == "absent":
        mine, current, recorded = _give_back(path, holder, p["history"])
        module.exit_json(changed=mine or bool(recorded), holder=current, recorded=recorded)
    deadline = time.monotonic() + p["wait"]
    while True:
        taken, current = _take(path, holder, p["break_run"])
        if taken:
            module.exit_json(changed=current is holder, locked=True, holder=current)
        if time.monotonic() >= deadline:
            module.fail_json(msg="the deploy lock is held", locked=False, holder=current)
        time.sleep(1)


if __name__ == "__main__":
    main()
