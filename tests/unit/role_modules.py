"""fleetdeploy's own Ansible modules (roles/*/library/*.py), imported as plain Python for their pure parts.
Under Ansible they import the node layout's reader as ansible.module_utils.fleet_layout (role
fleet_layout); here that name is given the same file first."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
LAYOUT = "ansible.module_utils.fleet_layout"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node_layout():
    """roles/fleet_layout's module_utils, registered under the name the modules import it by."""
    if LAYOUT not in sys.modules:
        sys.modules[LAYOUT] = _load(LAYOUT, ROLES / "fleet_layout" / "module_utils" / "fleet_layout.py")
    return sys.modules[LAYOUT]


def role_module(role: str, name: str):
    node_layout()
    return _load(name, ROLES / role / "library" / f"{name}.py")


def artifacts_shell(script: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """`script` run by `sh` after fleet_artifacts' node-side shell functions (its vars/main.yml), as the
    role's commands run on a node."""
    functions = yaml.safe_load((ROLES / "fleet_artifacts" / "vars" / "main.yml").read_text())
    return subprocess.run(
        ["sh", "-c", functions["__fleet_artifacts_functions"] + script, "sh", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
