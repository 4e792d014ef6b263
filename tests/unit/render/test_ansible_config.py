"""The rendered project's ansible.cfg starts from the site's own (render/ansible_config.py)."""

import configparser
from pathlib import Path

from fleetdeploy.render.ansible_config import project_config, site_config_file


def parsed(config) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config.text)
    return parser


def test_without_a_site_file_fleetdeploys_settings_alone():
    config = project_config(None)
    cfg = parsed(config)
    assert cfg["defaults"]["inventory"] == "../inventory" and cfg["defaults"]["roles_path"] == "roles"
    assert cfg["defaults"]["host_key_checking"] == "True" and cfg["defaults"]["forks"] == "10"
    assert cfg["ssh_connection"]["pipelining"] == "True" and cfg["connection"]["pipelining"] == "True"
    assert config.notes == () and "No site ansible.cfg" in config.text


def test_the_sites_settings_are_kept_with_its_relative_paths_made_absolute(tmp_path):
    site = tmp_path / "site" / "ansible.cfg"
    site.parent.mkdir()
    site.write_text(
        "[defaults]\nremote_user = deploy\nprivate_key_file = keys/id_ed25519\nroles_path = my-roles:~/roles\n"
        "forks = 25\nvault_password_file = /etc/vault-pass\n"
        "[ssh_connection]\nssh_args = -o ProxyJump=bastion.example.org -o ControlMaster=auto\npipelining = False\n"
        "[privilege_escalation]\nbecome_method = doas\n"
    )
    cfg = parsed(project_config(site))
    assert cfg["defaults"]["remote_user"] == "deploy"
    assert cfg["defaults"]["private_key_file"] == str(site.parent / "keys" / "id_ed25519")
    assert cfg["defaults"]["roles_path"] == f"roles:{site.parent / 'my-roles'}:~/roles"  # ours first
    assert cfg["defaults"]["vault_password_file"] == "/etc/vault-pass"
    assert cfg["defaults"]["forks"] == "25"  # the site's, without --forks
    assert cfg["ssh_connection"]["ssh_args"] == "-o ProxyJump=bastion.example.org -o ControlMaster=auto"
    assert cfg["ssh_connection"]["pipelining"] == "False"  # a site that needs requiretty keeps it off
    assert cfg["connection"]["pipelining"] == "False"
    assert cfg["privilege_escalation"]["become_method"] == "doas"
    assert parsed(project_config(site, forks=4))["defaults"]["forks"] == "4"  # --forks wins


def test_what_fleetdeploy_must_set_replaces_the_sites_value_and_says_so(tmp_path):
    site = tmp_path / "ansible.cfg"
    site.write_text("[defaults]\nhost_key_checking = False\ninventory = hosts.ini\n")
    config = project_config(site)
    cfg = parsed(config)
    assert cfg["defaults"]["host_key_checking"] == "True" and cfg["defaults"]["inventory"] == "../inventory"
    assert config.notes == (
        (f"{site}: [defaults] inventory = {tmp_path / 'hosts.ini'} is replaced by ../inventory (the inventory "
         "given to fleetdeploy is the one it runs on)"),
        (f"{site}: [defaults] host_key_checking = False is replaced by True (nodes are identified by their SSH "
         "host keys)"),
    )


def test_the_site_file_is_found_where_ansible_looks(tmp_path):
    cwd, home, named = tmp_path / "project", tmp_path / "home", tmp_path / "named.cfg"
    cwd.mkdir()
    home.mkdir()
    assert site_config_file(cwd, {}, home) in (None, Path("/etc/ansible/ansible.cfg"))
    (home / ".ansible.cfg").write_text("[defaults]\n")
    assert site_config_file(cwd, {}, home) == home / ".ansible.cfg"
    (cwd / "ansible.cfg").write_text("[defaults]\n")
    assert site_config_file(cwd, {}, home) == cwd / "ansible.cfg"
    named.write_text("[defaults]\n")
    assert site_config_file(cwd, {"ANSIBLE_CONFIG": str(named)}, home) == named
