#!/usr/bin/python
# Waits for a slot's release to answer /ready, giving up as soon as its container or unit has stopped:
# a release whose init() raises is refused in a second, not after the whole ready timeout.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_slot_ready
short_description: Wait until a fleetdeploy slot answers /ready on 127.0.0.1, or its process stopped
description:
  - Polls C(http://127.0.0.1:<port>/ready) until it answers 200, the timeout passes, or the slot's
    container (docker runtime) or systemd unit (venv/conda runtimes) is no longer running.
options:
  port: {type: int, required: true, description: The slot port on 127.0.0.1.}
  timeout: {type: int, default: 120, description: Seconds to wait.}
  container: {type: str, description: Docker container running the slot.}
  unit: {type: str, description: systemd unit running the slot.}
  cpu_shares:
    type: int
    description:
      - CPU shares to give the container once it is ready (it starts with few, so that its start-up takes
        only CPU the serving slot leaves idle, and gets its full weight before it takes traffic).
author: fleetdeploy
"""

import subprocess
import time
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule


def _ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stopped(container, unit):
    """Why the slot's process is not running, or None while it runs."""
    if container:
        out = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", container],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            return f"container {container} is gone"
        status, code, restarts = out.stdout.split()
        # With a restart policy a crashing container spends its life between "restarting" (exit code kept)
        # and a fresh "running" (exit code reset to 0); either restarting state means init() already failed.
        if status in ("exited", "dead"):
            return f"it exited with code {code}"
        if status == "restarting":
            return f"it exited with code {code} and Docker restarted it {restarts} times"
    if unit:
        out = subprocess.run(
            ["systemctl", "show", "--property=ActiveState,ExecMainStatus", "--value", unit],
            capture_output=True, text=True, check=False,
        )
        lines = out.stdout.split()
        if lines and lines[0] in ("failed", "inactive"):
            return f"unit {unit} is {lines[0]} (exit status {lines[1] if len(lines) > 1 else '?'})"
    return None


def _set_cpu_shares(module, container, shares):
    out = subprocess.run(
        ["docker", "update", "--cpu-shares", str(shares), container], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        # The refused release's report quotes `reason`: it must say what went wrong, as msg does.
        reason = f"it is ready but its CPU shares could not be raised to {shares}: {out.stderr.strip()}"
        module.fail_json(msg=f"container {container}: {reason}", ready=False, reason=reason)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            port=dict(type="int", required=True),
            timeout=dict(type="int", default=120),
            container=dict(type="str"),
            unit=dict(type="str"),
            cpu_shares=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    started = time.monotonic()
    deadline = started + params["timeout"]
    while True:
        if _ready(params["port"]):
            seconds = round(time.monotonic() - started, 2)
            raised = bool(params["cpu_shares"] and params["container"]) and not module.check_mode
            if raised:
                _set_cpu_shares(module, params["container"], params["cpu_shares"])
            module.exit_json(changed=raised, ready=True, seconds=seconds)
        reason = _stopped(params["container"], params["unit"])
        if reason is None and time.monotonic() >= deadline:
            reason = f"no /ready within {params['timeout']}s"
        if reason:
            module.fail_json(msg=reason, ready=False, reason=reason)
        time.sleep(0.3)


if __name__ == "__main__":
    main()
