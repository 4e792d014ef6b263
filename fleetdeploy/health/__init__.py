"""HTTP probes of scoring services across a fleet, from the controller (no playbook needed)."""

from fleetdeploy.health.probe import NodeProbe, probe_fleet, probe_node

__all__ = ["NodeProbe", "probe_fleet", "probe_node"]
