"""Jinja2 -> an Ansible project laid out as ansible-runner's private_data_dir.

The roles and playbooks are the repository's top-level `roles/` and `playbooks/`; this package
reaches them through `fleetdeploy/render/ansible/` (symlinks in a checkout, real files in a wheel).
"""

from fleetdeploy.render.ansible_config import site_config_file
from fleetdeploy.render.gpus import gpu_device_requests
from fleetdeploy.render.project import RenderedProject, render_project
from fleetdeploy.render.sources import ansible_sources

__all__ = ["RenderedProject", "ansible_sources", "gpu_device_requests", "render_project", "site_config_file"]
