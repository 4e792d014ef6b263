#!/usr/bin/python
"""Ansible module: what one fleetdeploy service looks like on this node, read-only, in one round trip.

It reads the node layout of docs/design.md (state/active.json, releases/<release>.json, `current`),
asks the runtime about the instance that serves (docker inspect for containers, systemctl show for
the venv/conda units), and optionally hashes the shipped files and reads the history. It returns the
lot as the fact `fleetdeploy_report`, which fleetdeploy's run module merges into the host's result;
every judgement (healthy? drifted?) is made on the controller (fleetdeploy/ops/).

Standard library only and Python 3.6 compatible: it runs with the node's own python3.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # noqa: F821  (Ansible's module boilerplate)

DOCUMENTATION = r"""
module: fleet_inspect
short_description: Report one fleetdeploy service's state on a node (read-only)
description:
  - Reads state/active.json, the active release's manifest, the serving container or systemd unit,
    the service's front unit and, on request, file hashes and history lines.
options:
  service:
    description: The service name.
    type: str
    required: true
  root:
    description: Root of fleetdeploy's files on the node.
    type: str
    default: /opt/fleetdeploy
  hash_files:
    description: Hash the active release's code and model files (for drift checks).
    type: bool
    default: false
  history_lines:
    description: How many of the last lines of state/history.jsonl to return (0 = none).
    type: int
    default: 0
  stored:
    description:
      - Also report what the node keeps that a deploy would not send again (apply --check), as
        C(stored): the completion markers in state/, each kept release's code, models and image, and
        whether the image I(image_id) is in the node's Docker engine.
    type: bool
    default: false
  image_id:
    description: With I(stored), the image id to look for (empty for the venv and conda runtimes).
    type: str
    default: ""
author: fleetdeploy
"""

import decimal
import hashlib
import json
import os
import stat
import subprocess

from ansible.module_utils.fleet_layout import (
    history_path,
    instance_name,
    manifest_path,
    read_active,
    read_json,
    release_manifests,
)

_CHUNK = 1 << 20
# Environment variables whose values are returned: fleetdeploy's own contract. Others (user extras,
# possibly secrets) are returned by name only.
_ENV_PREFIXES = ("FLEETDEPLOY_", "AML_", "AZUREML_")
_UNIT_PROPERTIES = (
    "ActiveState",
    "SubState",
    "NRestarts",
    "ExecMainStatus",
    "ExecMainStartTimestamp",
    "LoadState",
    "Result",
)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        chunk = fh.read(_CHUNK)
        while chunk:
            digest.update(chunk)
            chunk = fh.read(_CHUNK)
    return digest.hexdigest()


def hash_tree(root):
    """sha256 of every regular file under root, by relative posix path (the controller's rule:
    __pycache__, .git and *.pyc are never part of shipped code)."""
    files = {}
    if not os.path.isdir(root):
        return None
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.endswith(".pyc") or not os.path.isfile(path):
                continue
            files[os.path.relpath(path, root).replace(os.sep, "/")] = file_sha256(path)
    return files


def run(argv):
    """(rc, stdout, stderr); rc 127 when the program is not installed."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        return 127, "", str(exc)
    out, err = proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def container_facts(name, runner=run):
    rc, out, err = runner(["docker", "inspect", "--type", "container", name])
    if rc == 127:
        return {"name": name, "kind": "container", "exists": False, "error": "docker is not installed"}
    if rc != 0:
        missing = "no such" in (err + out).lower()
        return {
            "name": name,
            "kind": "container",
            "exists": False,
            "error": None if missing else (err.strip() or "docker inspect exited %d" % rc),
        }
    data = json.loads(out)[0]
    return container_summary(name, data)


def container_summary(name, data):
    """The few parts of `docker inspect` that status and drift read."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    env, other_env = {}, []
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        if key.startswith(_ENV_PREFIXES):
            env[key] = value
        else:
            other_env.append(key)
    return {
        "name": name,
        "kind": "container",
        "exists": True,
        "state": state.get("Status"),
        "running": bool(state.get("Running")),
        "restarting": bool(state.get("Restarting")),
        "exit_code": state.get("ExitCode"),
        "error": state.get("Error") or None,
        "oom_killed": bool(state.get("OOMKilled")),
        "started_at": state.get("StartedAt"),
        "finished_at": state.get("FinishedAt"),
        "health": (state.get("Health") or {}).get("Status"),
        "restarts": data.get("RestartCount", 0),
        "image_id": data.get("Image"),
        "image": config.get("Image"),
        "labels": config.get("Labels") or {},
        "env": env,
        "other_env": sorted(other_env),
        "mounts": sorted(
            (
                {"source": m.get("Source"), "destination": m.get("Destination"), "rw": m.get("RW")}
                for m in data.get("Mounts") or []
            ),
            key=lambda m: m["destination"] or "",
        ),
        "nano_cpus": host.get("NanoCpus") or 0,
        "memory": host.get("Memory") or 0,
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name"),
    }


def unit_facts(name, runner=run):
    """A systemd unit's state (venv/conda runtimes and the front)."""
    argv = ["systemctl", "show", name, "--property=" + ",".join(_UNIT_PROPERTIES)]
    rc, out, err = runner(argv)
    if rc != 0:
        return {"name": name, "kind": "unit", "exists": False, "error": err.strip() or None}
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    exists = props.get("LoadState") not in (None, "not-found")
    active = props.get("ActiveState")
    return {
        "name": name,
        "kind": "unit",
        "exists": exists,
        "state": active if exists else None,
        "running": active == "active",
        "restarting": active == "activating" and props.get("SubState") == "auto-restart",
        "exit_code": _int(props.get("ExecMainStatus")),
        "error": None,
        "started_at": props.get("ExecMainStartTimestamp") or None,
        "restarts": _int(props.get("NRestarts")) or 0,
        "result": props.get("Result"),
    }


def instance_facts(active, runner=run):
    """Where runtimes differ: a container for docker, a systemd unit for venv and conda."""
    runtime = active.get("runtime") or "docker"
    if runtime == "docker":
        return container_facts(instance_name(active), runner)
    if runtime in ("venv", "conda"):
        return unit_facts(instance_name(active), runner)
    return {"name": active.get("instance"), "kind": "unknown", "exists": False, "error": "unknown runtime %r" % runtime}


def release_files(service_dir, manifest):
    """Hashes of what is on disk where the manifest says its code and models are."""
    code_hash = manifest.get("code_hash")
    models = {}
    for model in manifest.get("models") or []:
        key = "%s/%s" % (model.get("name"), model.get("version"))
        models[key] = hash_tree(
            os.path.join(service_dir, "models", model.get("name"), str(model.get("version")))
        )
    return {
        "code": hash_tree(os.path.join(service_dir, "code", code_hash)) if code_hash else None,
        "models": models,
    }


def history_tail(path, lines):
    if lines <= 0 or not os.path.isfile(path):
        return []
    with open(path, "rb") as fh:
        raw = fh.read().decode("utf-8", "replace").splitlines()
    records = []
    for line in raw[-lines:]:
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({"unreadable": line[:500]})
    return records


def marked(marker):
    """Whether the folder a completion marker names is as it was marked: fleet_artifacts' `marked` (its
    vars/main.yml). The marker holds the folder's path, then `<size> <ctime> <path>` per file, as GNU
    find's `%s %C@ %p` prints them (ctime in seconds with a fraction: compared here in nanoseconds)."""
    try:
        with open(marker, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        if not lines or not os.path.isdir(lines[0]):
            return False
        wanted = {}
        for line in lines[1:]:
            size, ctime, path = line.split(" ", 2)
            wanted[path] = (int(size), int(decimal.Decimal(ctime) * 10**9))
    except (OSError, ValueError, decimal.InvalidOperation):
        return False
    found = {}
    for parent, _dirs, files in os.walk(lines[0]):
        for name in files:
            path = os.path.join(parent, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                found[path] = (info.st_size, info.st_ctime_ns)
    return found == wanted


def stored_artifacts(service_dir, image_id="", runner=run):
    """What the node keeps that a deploy would not send again: the completion markers fleet_artifacts
    writes, the parts of every kept release (code, models, image), and whether image_id is loaded."""
    state = os.path.join(service_dir, "state")
    names = sorted(name for name in os.listdir(state) if name.endswith(".done")) if os.path.isdir(state) else []
    markers = [name for name in names if marked(os.path.join(state, name))]
    releases = {}
    for release, path in release_manifests(service_dir).items():
        manifest = read_json(path)[0] or {}
        releases[release] = {
            "code_hash": manifest.get("code_hash"),
            "image_id": manifest.get("image_id"),
            "env_hash": manifest.get("env_hash"),
            "models": dict(
                ("%s/%s" % (m.get("name"), m.get("version")), m.get("files") or {})
                for m in manifest.get("models") or []
            ),
        }
    image_present = None
    if image_id:
        rc, out, _err = runner(["docker", "image", "inspect", "--format", "{{.Id}}", image_id])
        image_present = rc == 0 and out.strip() == image_id
    return {"markers": markers, "releases": releases, "image_present": image_present}


def inspect(service, root, hash_files=False, history_lines=0, runner=run, stored=False, image_id=""):
    service_dir = os.path.join(root, service)
    report = {"service": service, "errors": []}
    if stored:  # before the early return below: a node that serves nothing may still keep parts
        report["stored"] = stored_artifacts(service_dir, image_id, runner)
    active, error = read_active(service_dir, service)
    if error:
        report["errors"].append(error)
    report["active"] = active
    report["deployed"] = active is not None
    report["history"] = history_tail(history_path(service_dir), history_lines)
    if active is None:
        # Never deployed, or removed: say what remains, if anything.
        report["leftovers"] = os.path.isdir(service_dir) and sorted(os.listdir(service_dir)) or []
        return report
    report["instance"] = instance_facts(active, runner)
    if active.get("layout") == "slots":
        report["front"] = unit_facts("fleetdeploy-front@%s.service" % service, runner)
    manifest, error = read_json(manifest_path(service_dir, active.get("release")))
    if error:
        report["errors"].append(error)
    report["manifest"] = manifest
    if hash_files and manifest:
        report["files"] = release_files(service_dir, manifest)
    return report


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "required": True},
            "root": {"type": "str", "default": "/opt/fleetdeploy"},
            "hash_files": {"type": "bool", "default": False},
            "history_lines": {"type": "int", "default": 0},
            "stored": {"type": "bool", "default": False},
            "image_id": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    report = inspect(
        params["service"],
        params["root"],
        params["hash_files"],
        params["history_lines"],
        stored=params["stored"],
        image_id=params["image_id"],
    )
    module.exit_json(changed=False, ansible_facts={"fleetdeploy_report": report})


if __name__ == "__main__":
    main()
