#!/usr/bin/python
# A deploy's first contact with a node, one round trip: is the node already where this deploy wants it,
# and, when it is not, the OS facts the runtime roles read (where a `setup` task was a second round trip).
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_reach
short_description: Tell whether a node already serves what a fleetdeploy deploy wants, with its OS facts
description:
  - The node is already there when its record of the last full deploy names the same digest (the release,
    every setting, the roles' code) and what that deploy left is untouched; the active slot record and the
    front's config have the same checksums, the front runs and so does the recorded instance.
  - Otherwise returns the facts the runtime roles read (distribution, os_family, distribution_release,
    architecture) as ansible_facts, as C(setup) would.
options:
  record: {type: path, required: true, description: The record of the last full deploy (state/deployed).}
  desired: {type: str, required: true, description: This deploy's digest; empty never matches.}
  active: {type: path, required: true, description: The active slot record (state/active.json).}
  config: {type: path, required: true, description: The front's config file.}
  front_unit: {type: str, required: true, description: The front's systemd unit.}
  lock:
    type: path
    default: ""
    description: The service's deploy lock; when given and held, the node is not there (a deploy is under way).
author: fleetdeploy
"""

import hashlib
import os
import platform

from ansible.module_utils.basic import AnsibleModule

DEPLOYED = "deployed"


def read_record(path: str) -> dict[str, str]:
    """The record's `key value` lines (written by fleet_rollout's done.yml)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in lines if " " in line)


def sha1_of(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha1(handle.read()).hexdigest()
    except OSError:
        return ""


def why_not_there(record: dict[str, str], desired: str, sums: dict[str, str], front_unit: str, runs) -> str:
    """DEPLOYED, or the first reason the node is not where the deploy wants it. `runs(kind, name)` tells
    whether a systemd unit or a container runs."""
    if not desired or not record:
        return "no record of a deploy to compare"
    if record.get("desired") != desired:
        return "the wanted release or settings differ"
    if sums["active"] != record.get("active"):
        return "the active slot record changed"
    if sums["config"] != record.get("config"):
        return "the front's config changed"
    if not runs("unit", front_unit):
        return "the front does not run"
    instance = record.get("instance", "")
    if not runs("container" if record.get("runtime") == "docker" else "unit", instance):
        return f"{instance} does not run"
    return DEPLOYED


def os_facts(module: AnsibleModule) -> dict:
    # Imported here: a node already there never needs it, and it is the module's slowest import.
    from ansible.module_utils.facts.system.distribution import DistributionFactCollector

    facts = DistributionFactCollector().collect(module=module)
    facts["architecture"] = platform.machine()
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            record=dict(type="path", required=True),
            desired=dict(type="str", required=True),
            active=dict(type="path", required=True),
            config=dict(type="path", required=True),
            front_unit=dict(type="str", required=True),
            lock=dict(type="path", default=""),
        ),
        supports_check_mode=True,
    )
    p = module.params

    def runs(kind: str, name: str) -> bool:
        if kind == "container":
            rc, out, _ = module.run_command(["docker", "container", "inspect", "--format", "{{.State.Running}}", name])
            return rc == 0 and out.strip() == "true"
        rc, _, _ = module.run_command(["systemctl", "is-active", "--quiet", name])
        return rc == 0

    sums = {"active": sha1_of(p["active"]), "config": sha1_of(p["config"])}
    state = why_not_there(read_record(p["record"]), p["desired"], sums, p["front_unit"], runs)
    if state == DEPLOYED and p["lock"] and os.path.isdir(p["lock"]):
        # Asked before any lock (deploy.yml's first play): a deploy under way may be changing the node.
        state = "another deploy holds the lock"
    module.exit_json(changed=False, state=state, ansible_facts={} if state == DEPLOYED else os_facts(module))


if __name__ == "__main__":
    main()
