"""The roles' public surface stays consistent: every default is validated by meta/argument_specs.yml,
every validated option is either defaulted or required, and every variable carries the role's prefix."""

import pytest
import yaml

from fleetdeploy.render import ansible_sources

# Roles with tasks have a public surface; fleet_layout only carries module_utils for the others.
ROLES = sorted(p.name for p in ansible_sources().roles.iterdir() if (p / "tasks").is_dir())


def test_a_role_without_tasks_carries_only_what_other_roles_use():
    others = sorted(p.name for p in ansible_sources().roles.iterdir() if p.is_dir() and p.name not in ROLES)
    assert others == ["fleet_layout"]
    assert sorted(p.name for p in (ansible_sources().roles / "fleet_layout").iterdir()) == ["meta", "module_utils"]


def _load(role, path):
    file = ansible_sources().roles / role / path
    return yaml.safe_load(file.read_text()) or {} if file.exists() else {}


def test_the_deploy_roles_exist():
    expected = {
        "fleet_artifacts",
        "fleet_docker",
        "fleet_front",
        "fleet_image",
        "fleet_lock",
        "fleet_service",
        "fleet_verify",
    }
    assert expected <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_agree(role):
    defaults = _load(role, "defaults/main.yml")
    options = _load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == [], "defaults missing from argument_specs"
    undocumented = [
        name for name, spec in options.items() if name not in defaults and not spec.get("required")
    ]
    assert undocumented == [], "options neither defaulted nor required"
    for name, spec in options.items():
        if "default" in spec and name in defaults and "{{" not in str(defaults[name]):
            assert spec["default"] == defaults[name], name


@pytest.mark.parametrize("role", ROLES)
def test_required_options_are_shown_in_defaults_comments(role):
    options = _load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    text = (ansible_sources().roles / role / "defaults" / "main.yml").read_text()
    for name, spec in options.items():
        if spec.get("required"):
            assert f"#   {name}:" in text, f"{role}: required {name} is not shown in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_has_the_role_prefix(role):
    names = list(_load(role, "defaults/main.yml")) + list(_load(role, "vars/main.yml"))
    assert [n for n in names if not n.lstrip("_").startswith(role + "_")] == []


@pytest.mark.parametrize("role", ROLES)
def test_the_node_root_is_one_variable(role):
    """fleetdeploy's folder on the nodes is `fleetdeploy_root` (an inventory variable the controller's
    commands read too, ops/target.node_root), never a path written into a role's tasks or templates."""
    for name, value in _load(role, "defaults/main.yml").items():
        if name.endswith(("_root", "_prefix")):
            assert "fleetdeploy_root" in str(value), f"{role}: {name}"
    folder = ansible_sources().roles / role
    for path in [*folder.glob("tasks/*.yml"), *folder.glob("templates/*"), *folder.glob("vars/*.yml")]:
        assert "/opt/fleetdeploy" not in path.read_text(), path
