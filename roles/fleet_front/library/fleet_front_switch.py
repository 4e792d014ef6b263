#!/usr/bin/python
# The traffic switch as one HAProxy runtime-API exchange: the new slot ready and the old one draining in a
# single command line. Two separate commands (two Ansible tasks) leave both slots taking new requests for
# the time between them, and a client polling /version then sees old, new, old, new.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_front_switch
short_description: Send new requests to one server of a fleetdeploy front and drain another, at once
description:
  - Sends C(set server B/TO state ready; set server B/FROM state drain) over the front's admin socket
    in one line, so HAProxy applies both before it routes another request. Waiting for the drained
    server's sessions to end is left to community.general.haproxy.
options:
  socket: {type: path, required: true, description: The front's admin socket.}
  backend: {type: str, required: true, description: The backend holding both servers.}
  to: {type: str, required: true, description: Server to send new requests to.}
  from_server: {type: str, description: Server to drain; none when the front had no serving slot.}
author: fleetdeploy
"""

import csv
import re
import socket

from ansible.module_utils.basic import AnsibleModule

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _exchange(path, line):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
        admin.settimeout(10)
        admin.connect(path)
        admin.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := admin.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def server_states(path, backend):
    """{server: status} of the backend from `show stat` ("no check" or "UP" when taking traffic, "DRAIN",
    "MAINT"...)."""
    lines = _exchange(path, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    states = {}
    for row in csv.DictReader(lines[1:], fieldnames=header):
        if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND"):
            states[row["svname"]] = row["status"]
    return states


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path", required=True),
            backend=dict(type="str", required=True),
            to=dict(type="str", required=True),
            from_server=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    names = [params["backend"], params["to"]] + ([params["from_server"]] if params["from_server"] else [])
    bad = [name for name in names if not NAME.match(name)]
    if bad:
        module.fail_json(msg=f"not a HAProxy backend or server name: {', '.join(bad)}")
    commands = [f"set server {params['backend']}/{params['to']} state ready"]
    if params["from_server"] and params["from_server"] != params["to"]:
        commands.append(f"set server {params['backend']}/{params['from_server']} state drain")
    line = "; ".join(commands)
    try:
        states = server_states(params["socket"], params["backend"])
        missing = [name for name in names[1:] if name not in states]
        if missing:
            module.fail_json(msg=f"the front's backend {params['backend']} has no server {', '.join(missing)}")
        taking = not states[params["to"]].startswith(("MAINT", "DRAIN"))
        out = params["from_server"] in (None, params["to"]) or states[params["from_server"]].startswith(
            ("MAINT", "DRAIN")
        )
        if taking and out:
            module.exit_json(changed=False, commands=[], states=states)
        if module.check_mode:
            module.exit_json(changed=True, commands=commands, states=states)
        answer = _exchange(params["socket"], line)
    except OSError as exc:
        module.fail_json(msg=f"cannot reach the front's admin socket {params['socket']}: {exc}", commands=commands)
    # Each command answers nothing on success, or one line saying why not.
    if answer.strip():
        module.fail_json(msg=f"the front refused `{line}`: {answer.strip()}", commands=commands)
    module.exit_json(changed=True, commands=commands)


if __name__ == "__main__":
    main()
