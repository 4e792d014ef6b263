#!/usr/bin/python
# What a node keeps of one service: each release's manifest, whether its image is still there, and
# which release serves (state/active.json). Read-only; `fleetdeploy releases` shows it.
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_releases
short_description: List the releases of a fleetdeploy service kept on a node
options:
  service_dir: {type: path, required: true, description: /opt/fleetdeploy/<service>.}
author: fleetdeploy
"""

import datetime
import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.fleet_layout import active_path, read_record, release_manifests


def _image_present(image):
    if not image:
        return False
    out = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    return out.returncode == 0


def main():
    module = AnsibleModule(argument_spec=dict(service_dir=dict(type="path", required=True)), supports_check_mode=True)
    root = module.params["service_dir"]
    active = read_record(active_path(root))
    releases = []
    for rid, path in release_manifests(root).items():
        manifest = read_record(path)
        runtime = manifest.get("runtime", "docker")
        releases.append({
            "release": rid,
            "shipped": datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "image": manifest.get("image"),
            "complete": (not manifest.get("image") or runtime != "docker" or _image_present(manifest["image"]))
            and os.path.isdir(os.path.join(root, "code", manifest.get("code_hash", ""))),
            "serving": rid == active.get("release"),
            "previous": rid == active.get("previous"),
            "models": [f"{m['name']}:{m['version']}" for m in manifest.get("models", [])],
        })
    releases.sort(key=lambda item: item["shipped"], reverse=True)
    module.exit_json(changed=False, releases=releases, active=active)


if __name__ == "__main__":
    main()
