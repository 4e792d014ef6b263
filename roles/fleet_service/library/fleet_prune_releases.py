#!/usr/bin/python
# Keeps a node's last N releases (manifests, code folders, model versions) so rollback needs nothing
# from the controller, and removes the rest. Images are reported, not removed: docker_image does that.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_prune_releases
short_description: Remove a fleetdeploy service's releases beyond the newest N on a node
options:
  service_dir: {type: path, required: true, description: /opt/fleetdeploy/<service>.}
  keep: {type: int, required: true, description: How many releases to keep (newest manifests first).}
  protect: {type: list, elements: str, default: [], description: Releases never removed (serving, previous).}
author: fleetdeploy
"""

import os
import re
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.fleet_layout import read_json, release_manifests


def plan(manifests, keep, protect):
    """(kept, removed) release ids: the protected ones plus the newest until `keep` are kept."""
    newest_first = sorted(manifests, key=lambda rid: manifests[rid]["mtime"], reverse=True)
    kept = [rid for rid in newest_first if rid in protect]
    for rid in newest_first:
        if len(kept) >= keep:
            break
        if rid not in kept:
            kept.append(rid)
    return kept, [rid for rid in newest_first if rid not in kept]


def stale_release_files(folder, kept):
    """The `<release>.<suffix>` files of `folder` whose release is not kept."""
    if not os.path.isdir(folder):
        return []
    return sorted(name for name in os.listdir(folder) if os.path.splitext(name)[0] not in kept)


def stale_markers(state_dir, stale_code, stale_models):
    """The completion markers (fleet_artifacts) of the code and model folders being removed: a marker left
    behind would tell a later deploy of that release that its folder is complete, and it would start with
    no code (score.py "does not exist") or no model."""
    if not os.path.isdir(state_dir):
        return []
    names = {f"code-{code_hash}.done" for code_hash in stale_code}
    patterns = [
        re.compile(re.escape(f"model-{name}-{version}-") + r"[0-9a-f]{16}\.done")
        for name, _, version in (item.partition("/") for item in stale_models)
    ]
    return sorted(
        name for name in os.listdir(state_dir)
        if name in names or any(pattern.fullmatch(name) for pattern in patterns)
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service_dir=dict(type="path", required=True),
            keep=dict(type="int", required=True),
            protect=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    root = module.params["service_dir"]
    manifests = {}
    for rid, path in release_manifests(root).items():
        data, error = read_json(path)
        if data is None:  # never prune from a guess: its code, models or image might be the ones in use
            module.fail_json(msg=error or "%s vanished while pruning" % path)
        manifests[rid] = {"mtime": os.stat(path).st_mtime, "data": data, "path": path}
    kept, removed = plan(manifests, module.params["keep"], set(module.params["protect"]))
    used_code = {manifests[rid]["data"].get("code_hash") for rid in kept}
    used_models = {(m["name"], str(m["version"])) for rid in kept for m in manifests[rid]["data"].get("models", [])}
    used_images = {manifests[rid]["data"].get("image") for rid in kept}
    stale_code = sorted(
        name for name in os.listdir(os.path.join(root, "code")) if name not in used_code
    ) if os.path.isdir(os.path.join(root, "code")) else []
    stale_models = []
    models_root = os.path.join(root, "models")
    for name in sorted(os.listdir(models_root)) if os.path.isdir(models_root) else []:
        for version in sorted(os.listdir(os.path.join(models_root, name))):
            if (name, version) not in used_models:
                stale_models.append(f"{name}/{version}")
    # A release's secrets go with it (kept: a rollback to it starts it with them again).
    secrets_dir = os.path.join(root, "secrets")
    stale_secrets = stale_release_files(secrets_dir, kept)
    stale_images = sorted(
        {manifests[rid]["data"].get("image") for rid in removed} - used_images - {None}
    )
    markers = stale_markers(os.path.join(root, "state"), stale_code, stale_models)
    changed = bool(removed or stale_code or stale_models or stale_secrets or markers)
    if changed and not module.check_mode:
        # The markers first: a folder removed halfway (a power cut) is then copied again, never trusted.
        for name in markers:
            os.remove(os.path.join(root, "state", name))
        for rid in removed:
            os.remove(manifests[rid]["path"])
        for name in stale_code:
            shutil.rmtree(os.path.join(root, "code", name), ignore_errors=True)
        for item in stale_models:
            shutil.rmtree(os.path.join(models_root, item), ignore_errors=True)
        for name in stale_secrets:
            os.remove(os.path.join(secrets_dir, name))
    module.exit_json(
        changed=changed, kept=kept, removed=removed, removed_code=stale_code, removed_markers=markers,
        removed_models=stale_models, removed_secrets=stale_secrets, stale_images=stale_images,
    )


if __name__ == "__main__":
    main()
