# The check from the controller, run inside Ansible's worker: no module to ship, no interpreter to start.
# (As a local `command` running a Python one-liner it took ~1.5 s a node, most of a no-op's check.)
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from ansible.plugins.action import ActionBase

DOCUMENTATION = r"""
action: fleet_probe
short_description: GET /ready until 200, then POST the sample request to /score, from the controller
options:
  url: {type: str, required: true, description: Base URL of the node's service as the controller reaches it.}
  ready_timeout: {type: float, default: 60, description: Seconds /ready may take to answer 200.}
  request_timeout: {type: float, default: 30, description: Seconds one request may take.}
  sample_request: {type: str, default: "", description: JSON body POSTed to /score; empty checks /ready only.}
  expected_response: {type: str, default: "", description: JSON /score must answer; empty accepts any 200.}
"""


def _send(request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _reason(error: OSError) -> str:
    return str(getattr(error, "reason", error))


def probe(base: str, body: bytes, ready_timeout: float, request_timeout: float) -> dict:
    """What the service answered: `ready` (the last /ready status, or why nothing answered) and, when a
    body is given and /ready said 200, `status`, `content` and `latency_ms` of one POST to /score (timed
    around the request alone)."""
    deadline, ready = time.monotonic() + ready_timeout, "no answer"
    while True:
        try:
            ready, _ = _send(base + "/ready", min(request_timeout, 10))
        except OSError as error:
            ready = _reason(error)
        if ready == 200 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    seen = {"ready": ready}
    if ready == 200 and body:
        request = urllib.request.Request(
            base + "/score", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        start = time.perf_counter()
        try:
            status, content = _send(request, request_timeout)
            seen.update(status=status, content=content.decode("utf-8", "replace"))
        except OSError as error:
            seen.update(status=None, content="", error=_reason(error))
        seen["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return seen


def _truncate(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def failure(seen: dict, host: str, url: str, ready_timeout: float, sample: str, expected: str) -> str:
    """Why the check failed, naming the host and what to look at; empty when it passed."""
    if seen["ready"] != 200:
        return (
            f"host {host}: GET {url}/ready did not answer 200 within {ready_timeout:g}s from the controller "
            f"(last: {seen['ready']}). The service runs on the node; check that the controller can reach this "
            "address (fleetdeploy_scoring_url in the inventory) and that no firewall blocks the port."
        )
    if not sample:
        return ""
    if seen["status"] != 200:
        what = (
            f"answered {seen['status']}: {_truncate(seen['content'], 1000)}"
            if seen["status"]
            else f"failed: {seen['error']}"
        )
        return f"host {host}: POST {url}/score {what}"
    if expected:
        try:
            matches = json.loads(seen["content"]) == json.loads(expected)
        except ValueError:
            matches = False
        if not matches:
            return (
                f"host {host}: /score answered {_truncate(seen['content'], 200)}, "
                f"expected {_truncate(expected, 200)}."
            )
    return ""


class ActionModule(ActionBase):
    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "url": {"type": "str", "required": True},
                "ready_timeout": {"type": "float", "default": 60},
                "request_timeout": {"type": "float", "default": 30},
                "sample_request": {"type": "str", "default": ""},
                "expected_response": {"type": "str", "default": ""},
            }
        )
        url = args["url"].rstrip("/")
        sample = args["sample_request"]
        seen = probe(url, sample.encode(), args["ready_timeout"], args["request_timeout"])
        host = task_vars.get("inventory_hostname", "?")
        message = failure(seen, host, url, args["ready_timeout"], sample, args["expected_response"])
        result.update(changed=False, seen=seen)
        if message:
            result.update(failed=True, msg=message)
        return result
