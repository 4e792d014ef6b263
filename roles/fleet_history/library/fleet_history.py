#!/usr/bin/python
# Appends records to a fleetdeploy service's history on the node (fleet_layout.append_history, the one
# writer: fleet_lock's give-back appends the run's records the same way).
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_history
short_description: Append records to a fleetdeploy service's history on the node
options:
  service_dir: {type: path, required: true, description: The service's folder (/opt/fleetdeploy/<service>).}
  records: {type: list, elements: dict, required: true, description: The records, one JSON line each.}
author: fleetdeploy
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.fleet_layout import append_history


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service_dir=dict(type="path", required=True),
            records=dict(type="list", elements="dict", required=True),
        ),
        supports_check_mode=True,
    )
    written = 0 if module.check_mode else append_history(module.params["service_dir"], module.params["records"])
    module.exit_json(changed=bool(module.params["records"]), written=written)


if __name__ == "__main__":
    main()
