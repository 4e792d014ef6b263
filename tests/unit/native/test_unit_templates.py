"""The systemd files fleet_unit writes, rendered by Ansible's own templating from the role's defaults and
vars: the template unit (dedicated user, hardening without capabilities, journald), a slot's drop-in
(its environment, read-only binds of code and models, limits) and its environment file (the container's
variables, listening on 127.0.0.1:<slot port>, values escaped for systemd)."""

import json

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from fleetdeploy.render import ansible_sources

ROLE = ansible_sources().roles / "fleet_unit"
SAMPLE = json.dumps({"data": [[1.0, 2.0]], "note": 'say "hi" \\ bye'})


def trusted(value):
    """The role's own files, as Ansible reads them: their strings may be templates."""
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return trust_as_template(value) if isinstance(value, str) else value


def render(template: str, **overrides) -> str:
    variables = {
        **trusted(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())),
        **trusted(yaml.safe_load((ROLE / "vars" / "main.yml").read_text())),
        "fleet_unit_service": "mnist",
        "fleet_unit_release": "0a1b2c3d4e5f",
        "fleet_unit_runtime": "venv",
        "fleet_unit_env_hash": "985cce8b4da7330c",
        "fleet_unit_models": [{"name": "sklearn_mnist", "version": "1"}],
        "fleet_unit_code_hash": "c0de",
        "__fleet_unit_slot": "green",
        "ansible_managed": "Ansible managed",
        **overrides,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    # Ansible templates only text it trusts: a role's template file is.
    return templar.template(trust_as_template((ROLE / "templates" / template).read_text()))


def settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_template_unit_runs_as_the_dedicated_user_hardened_without_capabilities():
    unit = settings(render("fleetdeploy-service@.service.j2"))
    assert unit["User"] == ["fleetdeploy"] and unit["Group"] == ["fleetdeploy"]
    assert unit["EnvironmentFile"] == ["/etc/fleetdeploy/mnist/%i.env"]
    assert unit["CapabilityBoundingSet"] == [""] and unit["AmbientCapabilities"] == [""]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "KillMode": "mixed",
        "TimeoutStopSec": "40",
        "SyslogIdentifier": "fleetdeploy-mnist-%i",
    }.items():
        assert unit[key] == [value], key
    assert "StandardOutput" not in unit, "stdout goes to the journal (systemd's default)"


def test_gpus_keep_the_nodes_devices_visible():
    assert settings(render("fleetdeploy-service@.service.j2", fleet_unit_gpus=True))["PrivateDevices"] == [
        "no"
    ]


def test_a_slots_drop_in_runs_its_environment_with_its_code_and_models_read_only():
    dropin = settings(render("release.conf.j2", fleet_unit_cpus=1.5, fleet_unit_memory=1024**3))
    assert dropin["ExecStart"] == ["", "/opt/fleetdeploy/mnist/envs/985cce8b4da7330c/bin/fleetdeploy serve"]
    assert dropin["BindReadOnlyPaths"] == [
        "/opt/fleetdeploy/mnist/code/c0de:/var/azureml-app/code",
        "/opt/fleetdeploy/mnist/models/sklearn_mnist/1:/var/azureml-app/azureml-models/sklearn_mnist/1",
    ]
    assert dropin["CPUQuota"] == ["150%"] and dropin["MemoryMax"] == [str(1024**3)]
    unlimited = settings(render("release.conf.j2"))
    assert "CPUQuota" not in unlimited and "MemoryMax" not in unlimited


def systemd_value(raw: str) -> str:
    """How systemd reads a double-quoted EnvironmentFile value (backslash escapes)."""
    assert raw.startswith('"') and raw.endswith('"'), raw
    out, chars = [], iter(raw[1:-1])
    for char in chars:
        out.append(next(chars) if char == "\\" else char)
    return "".join(out)


@pytest.mark.parametrize(("models", "model_dir"), [(1, "azureml-models/m0/1"), (2, "azureml-models")])
def test_the_environment_file_is_the_containers_on_the_slots_loopback_port(models, model_dir):
    chosen = [{"name": f"m{i}", "version": "1"} for i in range(models)]
    env = {
        key: systemd_value(values[0])
        for key, values in settings(
            render("slot.env.j2", fleet_unit_models=chosen, fleet_unit_sample_request=SAMPLE)
        ).items()
    }
    assert env["AZUREML_MODEL_DIR"] == f"/var/azureml-app/{model_dir}"
    assert env["AML_APP_ROOT"] == "/var/azureml-app/code" and env["AZUREML_ENTRY_SCRIPT"] == "score.py"
    assert env["FLEETDEPLOY_HOST"] == "127.0.0.1" and env["FLEETDEPLOY_PORT"] == "26789"
    assert env["FLEETDEPLOY_RELEASE"] == "0a1b2c3d4e5f" and env["FLEETDEPLOY_SERVICE"] == "mnist"
    assert json.loads(env["FLEETDEPLOY_SAMPLE_REQUEST"]) == json.loads(SAMPLE)
