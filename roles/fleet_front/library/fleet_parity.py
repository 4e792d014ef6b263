#!/usr/bin/python
# The prediction-parity gate: the release about to take traffic must answer the golden requests as the
# serving release does, number by number within a tolerance, before any client sees it.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_parity
short_description: Compare a new slot's /score answers with the serving slot's
options:
  serving_port: {type: int, required: true, description: Port of the serving slot on 127.0.0.1.}
  candidate_port: {type: int, required: true, description: Port of the new slot on 127.0.0.1.}
  requests: {type: list, elements: str, required: true, description: Request bodies (JSON text).}
  abs_tolerance: {type: float, default: 0.0, description: Allowed absolute difference of numbers.}
  rel_tolerance: {type: float, default: 0.0, description: Allowed difference relative to the serving answer.}
  timeout: {type: int, default: 60, description: Seconds per request.}
author: fleetdeploy
"""

import json
import math
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule


def _score(port, body, timeout):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/score", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def differences(serving, candidate, abs_tol, rel_tol, path="$"):
    """Each place where the two answers differ beyond the tolerance, as 'path: serving != candidate'."""
    numbers = (int, float)
    if isinstance(serving, bool) or isinstance(candidate, bool):
        # True == 1 in Python; a label that turned into a flag is a difference.
        same = type(serving) is type(candidate) and serving == candidate
        return [] if same else [f"{path}: {serving!r} != {candidate!r}"]
    if isinstance(serving, numbers) and isinstance(candidate, numbers):
        close = math.isclose(serving, candidate, rel_tol=rel_tol, abs_tol=abs_tol)
        return [] if close else [f"{path}: {serving!r} != {candidate!r}"]
    if isinstance(serving, dict) and isinstance(candidate, dict):
        found = [f"{path}.{key}: only in one answer" for key in sorted(set(serving) ^ set(candidate))]
        for key in sorted(set(serving) & set(candidate)):
            found += differences(serving[key], candidate[key], abs_tol, rel_tol, f"{path}.{key}")
        return found
    if isinstance(serving, list) and isinstance(candidate, list):
        if len(serving) != len(candidate):
            return [f"{path}: {len(serving)} items != {len(candidate)} items"]
        found = []
        for index, (left, right) in enumerate(zip(serving, candidate)):
            found += differences(left, right, abs_tol, rel_tol, f"{path}[{index}]")
        return found
    return [] if serving == candidate else [f"{path}: {serving!r} != {candidate!r}"]


def _decoded(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main():
    module = AnsibleModule(
        argument_spec=dict(
            serving_port=dict(type="int", required=True),
            candidate_port=dict(type="int", required=True),
            requests=dict(type="list", elements="str", required=True),
            abs_tolerance=dict(type="float", default=0.0),
            rel_tolerance=dict(type="float", default=0.0),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    mismatches = []
    for index, body in enumerate(p["requests"]):
        answers = [_score(port, body, p["timeout"]) for port in (p["serving_port"], p["candidate_port"])]
        (s_status, s_text), (c_status, c_text) = answers
        if s_status != c_status:
            mismatches.append(f"request {index}: status {s_status} (serving) != {c_status} (new): {c_text[:300]}")
            continue
        found = differences(_decoded(s_text), _decoded(c_text), p["abs_tolerance"], p["rel_tolerance"])
        mismatches += [f"request {index}: {item}" for item in found[:10]]
    if mismatches:
        module.fail_json(msg="; ".join(mismatches[:20]), mismatches=mismatches)
    module.exit_json(changed=False, compared=len(p["requests"]))


if __name__ == "__main__":
    main()
