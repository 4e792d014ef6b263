# The check from the controller, run inside Ansible's worker: no module to ship, no interpreter to start.
# (As a local `command` running a Python one-liner it took ~1.5 s a node, most of a no-op's check.)
from __future__ import annotations

import json
import ssl
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
  service: {type: str, default: "", description: Service GET /version must name; empty accepts any.}
  release: {type: str, default: "", description: Release GET /version must name; empty accepts any.}
  ca_file:
    type: str
    default: ""
    description: CA certificate(s) an https URL's certificate must chain to (hostname checked); empty, the system's.
  keys_file:
    type: str
    default: ""
    description: >-
      The service's keys file on the controller (endpoint.auth key; may be vault-encrypted); its primary
      key goes with every request as Authorization Bearer. Empty, no key is sent.
"""


def _send(request, timeout: float, key: str = "", context=None) -> tuple[int, bytes]:
    if key:
        request = request if isinstance(request, urllib.request.Request) else urllib.request.Request(request)
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _reason(error: OSError) -> str:
    return str(getattr(error, "reason", error))


def probe(
    base: str,
    body: bytes,
    ready_timeout: float,
    request_timeout: float,
    identify: bool = False,
    key: str = "",
    context=None,
) -> dict:
    """What the service answered: `ready` (the last /ready status, or why nothing answered); once /ready
    said 200, `version` (GET /version's service and release, or why there are none) when `identify`, and
    when a body is given, `status`, `content` and `latency_ms` of one POST to /score (timed around the
    request alone)."""
    deadline, ready = time.monotonic() + ready_timeout, "no answer"
    while True:
        try:
            ready, _ = _send(base + "/ready", min(request_timeout, 10), key, context)
        except OSError as error:
            ready = _reason(error)
        if ready == 200 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    seen = {"ready": ready}
    if ready == 200 and identify:
        seen["version"] = _identity(base, request_timeout, key, context)
    if ready == 200 and body:
        request = urllib.request.Request(
            base + "/score", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        start = time.perf_counter()
        try:
            status, content = _send(request, request_timeout, key, context)
            seen.update(status=status, content=content.decode("utf-8", "replace"))
        except OSError as error:
            seen.update(status=None, content="", error=_reason(error))
        seen["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return seen


def _identity(base: str, timeout: float, key: str = "", context=None) -> dict | str:
    """{"service", "release"} from GET /version, or why it could not be read."""
    try:
        status, content = _send(base + "/version", timeout, key, context)
    except OSError as error:
        return f"GET /version failed: {_reason(error)}"
    try:
        version = json.loads(content) if status == 200 else None
    except ValueError:
        version = None
    if not isinstance(version, dict):
        return f"GET /version answered {status}: {_truncate(content.decode('utf-8', 'replace'), 200)}"
    return {"service": version.get("service", ""), "release": version.get("release", "")}


def _truncate(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def failure(
    seen: dict, host: str, url: str, ready_timeout: float, sample: str, expected: str, service: str = "",
    release: str = "",
) -> str:
    """Why the check failed, naming the host and what to look at; empty when it passed."""
    if seen["ready"] != 200:
        return (
            f"host {host}: GET {url}/ready did not answer 200 within {ready_timeout:g}s from the controller "
            f"(last: {seen['ready']}). The service runs on the node; check that the controller can reach this "
            "address (fleetdeploy_scoring_url or fleetdeploy_scoring_urls in the inventory) and that no "
            "firewall blocks the port."
        )
    if service or release:
        mismatch = _mismatch(seen.get("version"), service, release)
        if mismatch:
            return f"host {host}: {url} {mismatch}"
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


def _mismatch(version: dict | str | None, service: str, release: str) -> str:
    # Whatever answers on the URL is not proof: another service (or a stale release) may hold the port.
    if not isinstance(version, dict):
        return f"cannot tell what answers there: {version or 'no GET /version'}"
    wanted = {"service": service, "release": release}
    wrong = [key for key, value in wanted.items() if value and version.get(key) != value]
    if not wrong:
        return ""
    answered = " ".join(f"{key} {version.get(key) or '(none)'!s}" for key in ("service", "release"))
    expected = " ".join(f"{key} {value}" for key, value in wanted.items() if value)
    return (
        f"is answered by {answered}, not {expected}: another service may hold this port, or the URL "
        "(fleetdeploy_scoring_url or fleetdeploy_scoring_urls in the inventory) may point at another one"
    )


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
                "service": {"type": "str", "default": ""},
                "release": {"type": "str", "default": ""},
                "keys_file": {"type": "str", "default": ""},
                "ca_file": {"type": "str", "default": ""},
            }
        )
        url = args["url"].rstrip("/")
        sample, service, release = args["sample_request"], args["service"], args["release"]
        key = self._primary_key(args["keys_file"]) if args["keys_file"] else ""
        # Hostname checked: the node's certificate must name the address the controller reaches it at.
        context = ssl.create_default_context(cafile=args["ca_file"] or None) if url.startswith("https:") else None
        seen = probe(
            url, sample.encode(), args["ready_timeout"], args["request_timeout"], bool(service or release), key,
            context,
        )
        host = task_vars.get("inventory_hostname", "?")
        message = failure(seen, host, url, args["ready_timeout"], sample, args["expected_response"], service, release)
        result.update(changed=False, seen=seen)
        if message:
            result.update(failed=True, msg=message)
        return result

    def _primary_key(self, path: str) -> str:
        """The primary key from the keys file (fleetdeploy/keys.py's format), decrypted when vaulted."""
        real = self._loader.get_real_file(path, decrypt=True)
        try:
            with open(real, encoding="utf-8") as handle:
                text = handle.read()
        finally:
            self._loader.cleanup_tmp_file(real)
        return primary_key(text)


def primary_key(text: str) -> str:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] == "primary":
            return words[1]
    return ""
