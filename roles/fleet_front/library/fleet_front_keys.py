#!/usr/bin/python
# The hashes of a service's keys where its front checks them: a file HAProxy's ACL loads, and the ACL of
# the running front updated over the admin socket in one atomic step, so a regenerated key opens the
# service the moment this returns, with no reload (a reload leaves clients' open connections on the old
# process, which would refuse the new key until they reconnect).
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_front_keys
short_description: Keep the sha256 hashes of a fleetdeploy service's keys where its front checks them
description:
  - Writes I(hashes) (lowercase hex, one a line) to I(path), root's and 0600, whole or not at all; removes
    I(path) when I(hashes) is empty (key auth off).
  - When the file changed and the front runs with an ACL loaded from I(path), replaces that ACL's entries
    over the admin socket I(socket) (C(prepare acl), C(add acl @version), C(commit acl)): the running front
    accepts the new keys and refuses the old at once. A front that has no such ACL (auth turned on by this
    deploy) loads the file when its new config is loaded.
options:
  path: {type: path, required: true, description: The file the front's ACL is loaded from.}
  hashes: {type: list, elements: str, required: true, description: sha256 of each key, lowercase hex.}
  socket: {type: path, required: true, description: The front's admin socket.}
author: fleetdeploy
"""

RETURN = r"""
runtime: {type: bool, returned: always, description: Whether the running front's ACL was updated.}
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.fleet_layout import current_bytes, front_admin, write_durably

HEX = re.compile(r"^[0-9a-f]{64}$")
VERSION = re.compile(r"New version created: (\d+)")


class FrontError(Exception):
    pass


def content(hashes):
    return "".join(f"{digest}\n" for digest in hashes).encode()


def update_running(socket_path, path, hashes, exchange=front_admin):
    """The running front's ACL from `path` replaced by `hashes` in one commit; False when the front is not
    running or has no ACL from that file."""
    if not os.path.exists(socket_path):
        return False
    answer = exchange(socket_path, f"prepare acl {path}")
    version = VERSION.search(answer)
    if not version:
        return False  # "Unknown ACL identifier": the running config does not check keys yet
    for digest in hashes:
        answer = exchange(socket_path, f"add acl @{version.group(1)} {path} {digest}").strip()
        if answer:
            raise FrontError(f"the front refused a key hash for {path}: {answer}")
    answer = exchange(socket_path, f"commit acl @{version.group(1)} {path}").strip()
    if answer:
        raise FrontError(f"the front refused to commit the keys of {path}: {answer}")
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            hashes=dict(type="list", elements="str", required=True, no_log=False),
            socket=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    path, hashes = module.params["path"], module.params["hashes"]
    bad = [digest for digest in hashes if not HEX.match(digest)]
    if bad:
        module.fail_json(msg=f"not a sha256 in lowercase hex: {bad[0]!r}")
    wanted = content(hashes) if hashes else None
    if current_bytes(path) == wanted:
        module.exit_json(changed=False, runtime=False)
    if module.check_mode:
        module.exit_json(changed=True, runtime=False)
    runtime = False
    try:
        if wanted is None:
            os.unlink(path)
        else:
            write_durably(path, wanted, mode=0o600)
            runtime = update_running(module.params["socket"], path, hashes)
    except (OSError, FrontError) as exc:
        module.fail_json(msg=f"keys of the front ({path}): {exc}")
    module.exit_json(changed=True, runtime=runtime)


if __name__ == "__main__":
    main()
