#!/usr/bin/python
# The whole traffic switch of a node as one module call: move new requests, drain the old slot, record
# the switch. Each was its own Ansible task before (six round-trips to the node, run twice a deploy);
# on a fleet under load that was the bulk of a node's rollout time, and every round-trip is CPU the
# node's scoring process competes with.
#
# The move itself is one HAProxy runtime-API line, the new slot ready and the old one draining: two
# separate commands leave both slots taking new requests in between, and a client polling /version then
# sees old, new, old, new.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_front_switch
short_description: Send a fleetdeploy front's new requests to one slot, drain the other, record the switch
description:
  - Sends C(set server B/TO state ready; set server B/FROM state drain) over the front's admin socket in
    one line, so HAProxy applies both before it routes another request.
  - Waits until the drained server has no session left (or I(drain_timeout) passes), then puts it in
    maintenance.
  - Writes the record of what serves (I(record) plus C(previous) and C(switched_at)) to I(state_file),
    keeping it byte for byte when it already records this slot and release; writes I(config) (the
    front's config with the new slot enabled) to I(config_path) after checking it with
    C(haproxy -c); points the I(current_link) symlink at I(current_target).
  - Every step is skipped when already in place, so re-applying a switch changes nothing.
  - Then runs I(after) (an argv, e.g. stopping the release that served before), failing with its output
    when it fails: the switch stays recorded.
  - While it works, the file I(in_progress) exists: a switch cut short (the controller killed, the node
    down) leaves it, and the next deploy then makes the front match the record before anything else.
options:
  socket: {type: path, required: true, description: The front's admin socket.}
  backend: {type: str, required: true, description: The backend holding both servers.}
  to: {type: str, required: true, description: Server (slot) to send new requests to.}
  from_server: {type: str, description: Server to drain; none when the front had no serving slot.}
  drain_timeout: {type: int, default: 30, description: Seconds the drained server gets to finish.}
  record: {type: dict, required: true, description: What serves now (service, release, slot, ...).}
  state_file: {type: path, required: true, description: Where the record is kept (active.json).}
  config: {type: str, required: true, description: The front's config with slot I(to) enabled.}
  config_path: {type: path, required: true, description: The front's config file.}
  haproxy: {type: path, default: /usr/sbin/haproxy, description: HAProxy binary that checks the config.}
  current_link: {type: path, required: true, description: Symlink naming the serving release.}
  current_target: {type: str, required: true, description: Where I(current_link) points.}
  in_progress: {type: path, description: Marker kept from before the switch until every step is done.}
  after: {type: list, elements: str, default: [], description: Command run once the switch is recorded.}
author: fleetdeploy
"""

RETURN = r"""
active: {type: dict, returned: always, description: The record now in I(state_file).}
commands: {type: list, returned: always, description: Runtime-API lines sent to the front.}
steps: {type: list, returned: always, description: What changed (switch, record, config, current).}
"""

import csv
import json
import os
import re
import time
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.fleet_layout import (
    current_bytes,
    front_admin,
    read_record,
    replace_link,
    write_durably,
)

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
DRAIN_POLL = 0.2


class FrontError(Exception):
    pass


def _exchange(path, line):
    try:
        return front_admin(path, line)
    except OSError as exc:
        raise FrontError(f"cannot reach the front's admin socket {path}: {exc}") from exc


def _command(path, line):
    # Each command answers nothing on success, or one line saying why not.
    answer = _exchange(path, line).strip()
    if answer:
        raise FrontError(f"the front refused `{line}`: {answer}")


def servers(path, backend):
    """{server: `show stat` row} of the backend: `status` is "no check"/"UP" when taking traffic, "DRAIN",
    "MAINT"...; `scur` its current sessions."""
    lines = _exchange(path, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    return {
        row["svname"]: row
        for row in csv.DictReader(lines[1:], fieldnames=header)
        if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")
    }


def _out(row):
    return row["status"].startswith(("MAINT", "DRAIN"))


def switch(params, check_mode):
    """Ready `to` and drain `from_server` in one line; then wait for the drained server's sessions to end
    and put it in maintenance. Returns the runtime-API lines sent."""
    sock, backend, to, old = params["socket"], params["backend"], params["to"], params["from_server"]
    if old == to:
        old = None
    rows = servers(sock, backend)
    missing = [name for name in (to, old) if name and name not in rows]
    if missing:
        raise FrontError(f"the front's backend {backend} has no server {', '.join(missing)}")
    sent, moves = [], []
    if _out(rows[to]):
        moves.append(f"set server {backend}/{to} state ready")
    # A slot in maintenance takes no request: draining it would take it out of maintenance.
    if old and not _out(rows[old]):
        moves.append(f"set server {backend}/{old} state drain")
    if moves:
        sent.append("; ".join(moves))
        if not check_mode:
            _command(sock, sent[0])
    if old and not rows[old]["status"].startswith("MAINT"):
        if not check_mode:
            deadline = time.monotonic() + params["drain_timeout"]
            while servers(sock, backend)[old]["scur"] not in ("", "0") and time.monotonic() < deadline:
                time.sleep(DRAIN_POLL)
            _command(sock, f"set server {backend}/{old} state maint")
        sent.append(f"set server {backend}/{old} state maint")
    return sent


def record(params, check_mode):
    """The record of what serves, written unless it already says this slot and release (then kept as it
    is, `switched_at` included). Returns (record, changed)."""
    path, wanted = params["state_file"], dict(params["record"])
    before = read_record(path)
    if before.get("slot") == wanted["slot"] and before.get("release") == wanted["release"]:
        wanted["previous"] = before.get("previous")
        wanted["switched_at"] = before.get("switched_at")
    else:
        wanted["previous"] = before.get("release")
        wanted["switched_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if before == wanted:
        return before, False
    if not check_mode:
        text = json.dumps(wanted, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
        write_durably(path, text.encode())
    return wanted, True


def config(module, check_mode):
    """The front's config file, so that a restart comes up sending traffic to the same slot."""
    path, data = module.params["config_path"], module.params["config"].encode()
    if not data.endswith(b"\n"):
        data += b"\n"
    if current_bytes(path) == data:
        return False

    def check(tmp):
        rc, out, err = module.run_command([module.params["haproxy"], "-c", "-q", "-f", tmp])
        if rc != 0:
            raise FrontError(f"HAProxy refuses the front's new config: {(err or out).strip()}")

    if not check_mode:
        write_durably(path, data, check=check)
    return True


def current(params, check_mode):
    link, target = params["current_link"], params["current_target"]
    if os.path.islink(link) and os.readlink(link) == target:
        return False
    if not check_mode:
        replace_link(link, target)
    return True


def run(module, check_mode, progress):
    """The switch, the record, the config and the link, in that order, then the caller's `after` command,
    noting in `progress` what was sent and changed. Returns the record."""
    params = module.params
    # The order keeps the invariant rollouts rely on: the recorded slot is always one whose release runs
    # and takes traffic (the old slot is stopped only after the record is written: by `after`, last).
    marker = params.get("in_progress") if not check_mode else None
    if marker:
        write_durably(marker, f"{params['to']}\n".encode())
    progress["commands"] = switch(params, check_mode)
    progress["steps"] += ["switch"] if progress["commands"] else []
    active, changed = record(params, check_mode)
    progress["steps"] += ["record"] if changed else []
    progress["steps"] += ["config"] if config(module, check_mode) else []
    progress["steps"] += ["current"] if current(params, check_mode) else []
    if marker:
        os.unlink(marker)
    after = params.get("after") or []
    if after and not check_mode:
        rc, out, err = module.run_command(after)
        if rc != 0:
            raise FrontError(f"switched, then `{' '.join(after)}` failed (exit {rc}): {(err or out).strip()}")
        progress["steps"].append("after")
    return active


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path", required=True),
            backend=dict(type="str", required=True),
            to=dict(type="str", required=True),
            from_server=dict(type="str"),
            drain_timeout=dict(type="int", default=30),
            record=dict(type="dict", required=True),
            state_file=dict(type="path", required=True),
            config=dict(type="str", required=True),
            config_path=dict(type="path", required=True),
            haproxy=dict(type="path", default="/usr/sbin/haproxy"),
            current_link=dict(type="path", required=True),
            current_target=dict(type="str", required=True),
            in_progress=dict(type="path"),
            after=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params, check_mode = module.params, module.check_mode
    names = [params["backend"], params["to"]] + ([params["from_server"]] if params["from_server"] else [])
    bad = [name for name in names if not NAME.match(name)]
    if bad:
        module.fail_json(msg=f"not a HAProxy backend or server name: {', '.join(bad)}")
    progress = {"commands": [], "steps": []}
    try:
        active = run(module, check_mode, progress)
    except (FrontError, OSError) as exc:
        module.fail_json(msg=str(exc), **progress)
    module.exit_json(changed=bool(progress["steps"]), active=active, **progress)


if __name__ == "__main__":
    main()
