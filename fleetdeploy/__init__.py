"""fleetdeploy: deploy Azure ML-style scoring services to fleets of on-prem machines with Ansible."""

__version__ = "0.1.0"
