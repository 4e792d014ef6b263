import configparser
import json
import stat

import pytest
import yaml

from fleetdeploy.errors import ConfigError, EnvironmentProblem
from fleetdeploy.render import ansible_sources, render_project

VARIABLES = {"fleet_service_name": "mnist", "fleet_verify_sample_request": '{"data": [[0.0]]}'}


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "user" / "inventory.yml"
    path.parent.mkdir()
    path.write_text("fleet:\n  hosts:\n    node1:\n      ansible_host: 127.0.0.1\n")
    return path


def test_lays_out_an_ansible_runner_private_data_dir(tmp_path, inventory):
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables=VARIABLES)

    assert rendered.playbook == "playbooks/deploy.yml"
    assert (rendered.project_dir / rendered.playbook).is_file()
    for role in ("fleet_docker", "fleet_image", "fleet_artifacts", "fleet_service", "fleet_verify"):
        assert (rendered.project_dir / "roles" / role / "tasks" / "main.yml").is_file()
    assert (rendered.inventory_dir / "inventory.yml").read_text() == inventory.read_text()


def test_the_values_are_in_the_vars_file_only_never_extra_variables(tmp_path, inventory):
    # Extra variables would outrank the set_fact with which a role switching a node back takes the
    # settings of the release it goes back to.
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables=VARIABLES)
    assert yaml.safe_load(rendered.vars_file.read_text()) == VARIABLES
    assert not (rendered.private_data_dir / "env" / "extravars").exists()


def test_every_play_of_every_playbook_loads_the_vars_file(tmp_path, inventory):
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables=VARIABLES)
    playbooks = sorted((rendered.project_dir / "playbooks").glob("*.yml"))
    assert playbooks
    for playbook in playbooks:
        for play in yaml.safe_load(playbook.read_text()):
            first, per_host = play.get("vars_files", [None, None])
            assert (playbook.parent / first).resolve() == rendered.vars_file, f"{playbook.name}: {play['name']!r}"
            # then the host's overrides, or an empty file: each host file a host may have, then the default
            assert per_host == ["../vars/hosts/{{ inventory_hostname }}.json", "../vars/no-overrides.json"]
    assert (rendered.project_dir / "vars" / "no-overrides.json").read_text() == "{}\n"


def test_a_host_with_overrides_gets_the_values_that_differ_in_its_own_file(tmp_path, inventory):
    mine = {"fleet_service_workers": 4, "fleetdeploy_release": "0123456789ab"}
    rendered = render_project(
        tmp_path / "run", inventory_path=inventory, variables=VARIABLES, host_variables={"gpu1": mine}
    )
    assert json.loads((rendered.project_dir / "vars" / "hosts" / "gpu1.json").read_text()) == mine
    assert [path.name for path in (rendered.project_dir / "vars" / "hosts").iterdir()] == ["gpu1.json"]


def test_ansible_cfg_keeps_host_key_checking_and_finds_inventory_and_roles(tmp_path, inventory):
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables={}, forks=7)
    cfg = configparser.ConfigParser()
    cfg.read(rendered.project_dir / "ansible.cfg")
    assert cfg["defaults"]["host_key_checking"] == "True"
    assert cfg["defaults"]["forks"] == "7"
    assert (rendered.project_dir / cfg["defaults"]["inventory"]).resolve() == rendered.inventory_dir
    assert (rendered.project_dir / cfg["defaults"]["roles_path"]).resolve() == rendered.project_dir / "roles"
    assert cfg["ssh_connection"]["pipelining"] == "True"


def test_envvars_configure_ansible_under_runner(tmp_path, inventory):
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables={}, forks=3)
    env_dir = rendered.private_data_dir / "env"
    envvars = yaml.safe_load((env_dir / "envvars").read_text())
    # Only what must hold whatever the site configures: the rest is in ansible.cfg, where the site's
    # settings are (an environment variable would outrank them).
    assert envvars == {
        "ANSIBLE_CONFIG": str(rendered.project_dir / "ansible.cfg"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }
    assert yaml.safe_load((env_dir / "settings").read_text())["suppress_ansible_output"] is True
    assert stat.S_IMODE((env_dir / "envvars").stat().st_mode) == 0o600


def test_readme_tells_how_to_run_with_plain_ansible_playbook(tmp_path, inventory):
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables={})
    assert (
        "ansible-playbook playbooks/deploy.yml\n"
        in (rendered.project_dir / "README.md").read_text()
    )


def test_inventory_file_brings_its_group_and_host_vars(tmp_path, inventory):
    (inventory.parent / "group_vars").mkdir()
    (inventory.parent / "group_vars" / "fleet.yml").write_text("fleet_service_port: 7000\n")
    (inventory.parent / "host_vars").mkdir()
    (inventory.parent / "host_vars" / "node1.yml").write_text("ansible_port: 2222\n")
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables={})
    assert (rendered.inventory_dir / "group_vars" / "fleet.yml").read_text() == "fleet_service_port: 7000\n"
    assert (rendered.inventory_dir / "host_vars" / "node1.yml").is_file()
    modes = {
        path.relative_to(rendered.inventory_dir).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in [rendered.inventory_dir, *rendered.inventory_dir.rglob("*")]
    }
    assert modes == {  # the user's only: inventories hold passwords
        ".": 0o700, "inventory.yml": 0o600, "group_vars": 0o700, "group_vars/fleet.yml": 0o600,
        "host_vars": 0o700, "host_vars/node1.yml": 0o600,
    }  # fmt: skip


def test_inventory_folder_is_copied_whole(tmp_path, inventory):
    (inventory.parent / "group_vars").mkdir()
    (inventory.parent / "group_vars" / "all.yml").write_text("a: 1\n")
    rendered = render_project(tmp_path / "run", inventory_path=inventory.parent, variables={})
    assert sorted(p.name for p in rendered.inventory_dir.iterdir()) == ["group_vars", "inventory.yml"]


def test_rendering_again_replaces_the_project_but_keeps_runner_artifacts(tmp_path, inventory):
    run_dir = tmp_path / "run"
    render_project(run_dir, inventory_path=inventory, variables={"a": 1})
    (run_dir / "project" / "stale.txt").write_text("old")
    (run_dir / "artifacts").mkdir()
    (run_dir / "artifacts" / "status").write_text("successful")
    rendered = render_project(run_dir, inventory_path=inventory, variables={"a": 2})
    assert not (rendered.project_dir / "stale.txt").exists()
    assert (run_dir / "artifacts" / "status").read_text() == "successful"
    assert yaml.safe_load(rendered.vars_file.read_text()) == {"a": 2}


def test_missing_inventory_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"inventory .*nope\.yml does not exist"):
        render_project(tmp_path / "run", inventory_path=tmp_path / "nope.yml", variables={})


def test_unknown_playbook_lists_the_available_ones(tmp_path, inventory):
    with pytest.raises(
        ConfigError, match=r"playbook 'nonesuch\.yml' does not exist; available: .*deploy\.yml"
    ):
        render_project(tmp_path / "run", inventory_path=inventory, variables={}, playbook="nonesuch.yml")


def test_sources_can_be_overridden_and_a_bad_override_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_ANSIBLE_DIR", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match=r"FLEETDEPLOY_ANSIBLE_DIR=.* has no Ansible roles/ folder"):
        ansible_sources()


def test_packaged_sources_are_the_repository_roles():
    sources = ansible_sources()
    assert "deploy.yml" in sources.playbook_names()
    assert (sources.roles / "fleet_service" / "meta" / "argument_specs.yml").is_file()
