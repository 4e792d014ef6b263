"""The spec-to-roles mapping against the roles' own argument specs: every required option is given,
nothing is passed that no role declares, and values have the types the roles declare."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jinja2
import pytest
import yaml

from fleetdeploy.artifacts import ModelInput, stage_artifacts
from fleetdeploy.deploy.release import PreparedRelease, container_settings
from fleetdeploy.image import BuiltImage, SavedImage
from fleetdeploy.render.variables import plain_data
from fleetdeploy.runtimes import role_variables
from fleetdeploy.runtimes.docker import ImageRelease
from fleetdeploy.spec import load_spec

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "mnist"
TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict}


# Roles that only choose which runtime's roles run: the walk goes into their task files.
DISPATCHERS = {"fleet_release"}


def deploy_roles(runtime: str = "docker") -> tuple[list[str], set[str]]:
    """The roles deploy.yml runs with apply's variables for `runtime` (their `when` evaluated as Ansible
    would), and the variables the playbook gives them itself (task `vars`, set_fact); others (fleet_front,
    ...) get theirs from those roles."""
    env = jinja2.Environment()
    env.filters["bool"] = lambda value: str(value).lower() in ("true", "yes", "1", "on")  # as Ansible's
    roles, given = [], set()

    def walk(tasks, context, folder):
        for task in tasks:
            walk(task.get("block", []) + task.get("rescue", []) + task.get("always", []), context, folder)
            given.update(task.get("ansible.builtin.set_fact") or {})  # the playbook's own defaults
            conditions = task.get("when", [])
            conditions = conditions if isinstance(conditions, list) else [conditions]
            if not all(env.compile_expression(str(c))(**context) for c in conditions):
                continue
            local = {**context, **{k: _rendered(env, v, context) for k, v in (task.get("vars") or {}).items()}}
            role = task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role")
            if role:
                roles.append(role["name"])
                given.update(task.get("vars") or {})
                if role.get("tasks_from"):  # e.g. fleet_lock's holder: the facts it sets for the next roles
                    entry = ROOT / "roles" / role["name"] / "tasks" / f"{role['tasks_from']}.yml"
                    for step in yaml.safe_load(entry.read_text()):
                        given.update(step.get("ansible.builtin.set_fact") or {})
                if role["name"] in DISPATCHERS:
                    tasks_dir = ROOT / "roles" / role["name"] / "tasks"
                    walk(yaml.safe_load((tasks_dir / "main.yml").read_text()), local, tasks_dir)
            included = task.get("ansible.builtin.include_tasks") or task.get("ansible.builtin.import_tasks")
            if included and folder is not None:
                name = env.from_string(
                    str(included.get("file") if isinstance(included, dict) else included)
                ).render(local)
                walk(yaml.safe_load((folder / name).read_text()), local, folder)

    for play in yaml.safe_load((ROOT / "playbooks" / "deploy.yml").read_text()):
        walk(play.get("tasks", []), {"fleetdeploy_runtime": runtime}, None)
    return roles, given


def _rendered(env: jinja2.Environment, value, context: dict):
    """A task variable as plain Jinja renders it; one built with Ansible's own filters (a list of hosts
    from hostvars) stays as written: no condition the walk evaluates reads it."""
    try:
        return env.from_string(str(value)).render(context)
    except jinja2.TemplateError:
        return value


def role_options(roles: list[str] | None = None) -> dict[str, dict]:
    options = {}
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        if roles is not None and spec_file.parent.parent.name not in roles:
            continue
        for entry in yaml.safe_load(spec_file.read_text())["argument_specs"].values():
            options.update(entry.get("options", {}))
    return options


@pytest.fixture
def variables(tmp_path):
    return variables_for(tmp_path)


def _example_spec(tmp_path, edit=lambda text: text) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    spec_text = (EXAMPLE / "fleetdeploy.yml").read_text().replace("model/sklearn_mnist_model.pkl", str(model))
    spec_file = tmp_path / "fleetdeploy.yml"
    spec_file.write_text(edit(spec_text))
    for name in ("score.py", "requirements.txt", "sample_request.json"):
        (tmp_path / name).write_bytes((EXAMPLE / name).read_bytes())
    return spec_file


def variables_for(tmp_path, edit=lambda text: text):
    spec = load_spec(_example_spec(tmp_path, edit))
    return role_variables(spec, _prepared_of(tmp_path, spec))


def _prepared_of(tmp_path, spec) -> PreparedRelease:
    spec_file = spec.source
    staged = stage_artifacts(
        [ModelInput(m.name, m.version, m.path) for m in spec.models],
        spec.entry_script.source_dir,
        spec.entry_script.path,
        tmp_path / "run" / "staged",
        exclude=(spec_file,),
    )
    image = BuiltImage(
        "fleetdeploy-mnist:abc",
        "sha256:" + "1" * 64,
        "e" * 16,
        "fleetdeploy-env:e",
        "sha256:2",
        "0.1.0",
        True,
        True,
    )
    archive = SavedImage(tmp_path / "image.tar.gz", 10, image.image_id, reused=False,
                         zstd_path=tmp_path / "image.tar.zst", tar_bytes=30)
    return PreparedRelease("0123456789ab", staged, container_settings(spec), ImageRelease(image, archive))


def test_every_required_role_option_is_given(variables):
    roles, given = deploy_roles()
    assert {"fleet_docker", "fleet_service", "fleet_verify", "fleet_rollout"} <= set(roles)
    assert "fleet_unit" not in roles and "fleet_unit" in deploy_roles("venv")[0]
    missing = [
        name
        for name, option in role_options(roles).items()
        if option.get("required") and name not in variables and name not in given
    ]
    assert missing == []


def test_nothing_is_passed_that_no_role_declares(variables):
    declared = role_options()
    undeclared = [name for name in variables if name.startswith("fleet_") and name not in declared]
    assert undeclared == []


def test_values_have_the_declared_types(variables):
    """As Ansible gets them: a controller file's Path is written as its path (render/variables.py)."""
    declared = role_options()
    given = plain_data(variables)
    wrong = {
        name: type(value).__name__
        for name, value in given.items()
        if name in declared and not isinstance(value, TYPES.get(declared[name].get("type", "str"), object))
    }
    assert wrong == {}


def test_controller_files_are_paths_and_nothing_else_is(variables):
    # render/bundle.py copies every Path into a self-contained project: a node path must stay text.
    def paths(value, key=""):
        if isinstance(value, Path):
            yield key
        elif isinstance(value, dict):
            for name, item in value.items():
                yield from paths(item, name)
        elif isinstance(value, list):
            for item in value:
                yield from paths(item, key)

    assert sorted(paths(variables)) == [
        "fleet_artifacts_code_archive", "fleet_image_archive", "fleet_image_archive_zstd", "src"]


def test_sample_request_and_model_layout_reach_the_roles(variables):
    assert variables["fleet_verify_sample_request"].startswith('{"data": [[')
    assert variables["fleet_verify_expected_response"] == "[2]"
    assert variables["fleet_service_models"] == [{"name": "sklearn_mnist", "version": "1"}]
    (model,) = variables["fleet_artifacts_models"]
    assert [entry["path"] for entry in model["files"]] == ["model.pkl"]
    # What fleet_artifacts checks against each node's free space before sending anything.
    assert model["bytes"] == Path(model["src"], "model.pkl").stat().st_size > 0
    assert variables["fleet_artifacts_code_bytes"] > 0
    assert (variables["fleet_service_memory"], variables["fleet_service_cpus"]) == (str(1024**3), 1.0)


def test_gpu_requests_reach_the_container_in_docker_container_option_keys(tmp_path):
    # community.docker.docker_container's device_requests take lowercase keys (driver, count, ...);
    # the Docker API's capitalised ones would be refused as unsupported parameters at deploy time.
    gpu = variables_for(tmp_path, edit=lambda text: text.replace("memory: 1g", "memory: 1g\n  gpus: all"))
    assert gpu["fleet_service_device_requests"] == [
        {"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}
    ]


def test_env_reaches_the_container_and_secrets_only_as_a_file_path(tmp_path):
    secret = tmp_path / "secrets.json"
    secret.write_text('{"DB": "hunter2"}')
    variables = variables_for(tmp_path, lambda text: text + "env: {FEATURES_URL: https://f.example}\n")
    assert variables["fleet_service_env"] == {"FEATURES_URL": "https://f.example"}
    assert (variables["fleet_service_secrets"], variables["fleet_artifacts_secrets_src"]) == (False, "")

    spec = load_spec(tmp_path / "fleetdeploy.yml")
    prepared = _prepared_of(tmp_path, spec)
    with_secrets = role_variables(spec, replace(prepared, secrets_file=secret))
    assert with_secrets["fleet_artifacts_secrets_src"] == secret
    assert with_secrets["fleet_service_secrets"] is True
    assert with_secrets["fleet_artifacts_release_manifest"]["service_vars"]["fleet_service_secrets"] is True
    assert "hunter2" not in json.dumps(with_secrets, default=str)


def test_secrets_change_the_release_identity_through_their_keyed_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path / "home"))
    spec = load_spec(_example_spec(tmp_path))
    from fleetdeploy.secret_values import secrets_identity

    plain = container_settings(spec)
    first = container_settings(spec, secrets_identity({"DB": "hunter2"}))
    second = container_settings(spec, secrets_identity({"DB": "hunter3"}))
    assert "secrets" not in plain and "env" not in plain  # releases without them keep their ids
    assert first["secrets"]["names"] == ["DB"] and first != second
    assert "hunter2" not in json.dumps(first)


def test_the_desired_digest_ignores_where_the_controller_keeps_files_and_follows_every_setting(tmp_path):
    here = variables_for(tmp_path / "a")["fleet_rollout_desired"]
    assert variables_for(tmp_path / "b")["fleet_rollout_desired"] == here  # other paths, same deploy
    changed = variables_for(tmp_path / "c", lambda text: text.replace("workers: 1", "workers: 2"))
    assert changed["fleet_rollout_desired"] != here


def test_the_desired_digest_follows_the_roles_code(tmp_path, monkeypatch):
    import shutil

    here = variables_for(tmp_path / "a")["fleet_rollout_desired"]
    copy = tmp_path / "ansible"
    for folder in ("roles", "playbooks"):
        shutil.copytree(ROOT / folder, copy / folder)
    monkeypatch.setenv("FLEETDEPLOY_ANSIBLE_DIR", str(copy))
    assert variables_for(tmp_path / "b")["fleet_rollout_desired"] == here
    with open(copy / "roles" / "fleet_service" / "tasks" / "main.yml", "a") as tasks:
        tasks.write("# a change\n")
    assert variables_for(tmp_path / "c")["fleet_rollout_desired"] != here
