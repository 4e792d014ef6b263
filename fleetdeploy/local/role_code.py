"""The roles' own code and settings, used on this machine: a local service (fleetdeploy/local) renders
the front's config from roles/fleet_front's template, runs its slots with roles/fleet_service's defaults
and switches with the module a node runs (fleet_front_switch), so the switch's order and its durable
writes are one piece of code wherever a service runs."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import jinja2
import yaml

from fleetdeploy.render import ansible_sources


def _role(name: str) -> Path:
    return ansible_sources().roles / name


@functools.cache
def layout() -> ModuleType:
    """roles/fleet_layout's module_utils: durable writes, the node layout's readers."""
    return _load("ansible.module_utils.fleet_layout", _role("fleet_layout") / "module_utils" / "fleet_layout.py")


@functools.cache
def front_switch() -> ModuleType:
    """roles/fleet_front's fleet_front_switch: `switch` (ready one slot, drain the other) and `record`."""
    layout()  # what the module imports, as Ansible would provide it
    return _load("fleetdeploy_local_front_switch", _role("fleet_front") / "library" / "fleet_front_switch.py")


@functools.cache
def role_values(role: str, part: str = "defaults") -> dict:
    """A role's defaults/main.yml (or vars/main.yml): its plain values; templated ones stay text."""
    return yaml.safe_load((_role(role) / part / "main.yml").read_text()) or {}


def render_role_template(role: str, name: str, values: dict) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string((_role(role) / "templates" / name).read_text()).render(**values)


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
