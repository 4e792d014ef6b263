"""Ansible Vault on the controller, with real ansible-vault files: a vaulted group_vars file, a wholly
vaulted inventory and an inline `!vault` value are read with the password given (and only then), a
playbook run through ansible-runner decrypts the same values, and the CLI turns a missing or wrong
password into one line naming the file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fleetdeploy.errors import ConfigError
from fleetdeploy.inventory import load_inventory
from fleetdeploy.run import run_playbook
from fleetdeploy.vault import IDENTITY_LIST, PASSWORD_FILE, use_vault

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VAULT = Path(sys.executable).parent / "ansible-vault"
SECRET = "s3cret-become-password"


@pytest.fixture(autouse=True)
def no_vault_in_the_environment(monkeypatch):
    monkeypatch.delenv(IDENTITY_LIST, raising=False)
    monkeypatch.delenv(PASSWORD_FILE, raising=False)


@pytest.fixture
def passwords(tmp_path) -> dict[str, Path]:
    files = {"right": tmp_path / "vault-pass", "wrong": tmp_path / "wrong-pass"}
    files["right"].write_text("correct horse\n")
    files["wrong"].write_text("battery staple\n")
    return files


def encrypt(path: Path, password_file: Path) -> None:
    subprocess.run([VAULT, "encrypt", "--vault-password-file", password_file, path], check=True, capture_output=True)


def vaulted_group_vars(folder: Path, password_file: Path) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    (folder / "group_vars").mkdir(parents=True)
    (folder / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"web1": local}}}))
    secrets = folder / "group_vars" / "all.yml"
    secrets.write_text(yaml.safe_dump({"ansible_become_password": SECRET, "site_token": "t0k3n"}))
    encrypt(secrets, password_file)
    return folder


def test_a_vaulted_group_vars_file_is_read_with_the_password_and_named_without_it(tmp_path, passwords):
    inventory = vaulted_group_vars(tmp_path / "inv", passwords["right"])
    with pytest.raises(ConfigError) as missing:
        load_inventory(inventory)
    assert str(missing.value).startswith(f"{inventory / 'group_vars' / 'all.yml'}: vault-encrypted and no vault")
    assert "--vault-password-file" in str(missing.value)

    use_vault(password_files=[passwords["wrong"]])
    with pytest.raises(ConfigError, match="the vault password given does not decrypt it"):
        load_inventory(inventory)

    os.environ.pop(IDENTITY_LIST)
    use_vault(vault_ids=[f"prod@{passwords['right']}"])
    assert load_inventory(inventory).get("web1").vars["ansible_become_password"] == SECRET


def test_a_wholly_vaulted_inventory_and_an_inline_vault_value(tmp_path, passwords, monkeypatch):
    whole = tmp_path / "whole.yml"
    whole.write_text(yaml.safe_dump({"all": {"hosts": {"web1": {"ansible_host": "127.0.0.1"}}}}))
    encrypt(whole, passwords["right"])
    inline = tmp_path / "inline.yml"
    encrypted = subprocess.run(
        [VAULT, "encrypt_string", "--vault-password-file", passwords["right"], SECRET, "--name", "ansible_user"],
        check=True, capture_output=True, text=True,
    ).stdout
    inline.write_text(
        "all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n  vars:\n"
        + "".join(f"    {line}\n" for line in encrypted.splitlines())
    )
    for path in (whole, inline):
        with pytest.raises(ConfigError, match=f"^{path}: vault-encrypted and no vault password was given"):
            load_inventory(path)
    monkeypatch.setenv(PASSWORD_FILE, str(passwords["right"]))  # as Ansible users set it
    assert load_inventory(whole).names == ["web1"]
    assert load_inventory(inline).get("web1").user == SECRET


def test_runs_decrypt_with_the_same_password(tmp_path, passwords):
    run_dir = tmp_path / "run"
    vaulted_group_vars(run_dir / "inventory", passwords["right"])
    (run_dir / "project").mkdir()
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Report the vaulted value's length", "ansible.builtin.set_fact": {
            "fleetdeploy_report": {"token_length": "{{ site_token | length }}"}}}]}]  # fmt: skip
    (run_dir / "project" / "site.yml").write_text(yaml.safe_dump(play))
    use_vault(password_files=[passwords["right"]])
    result = run_playbook(run_dir, "site.yml")
    assert result.status == "successful", result.stdout_path.read_text()
    assert str(result.hosts["web1"].report["token_length"]) == "5"


def fleetdeploy(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fleetdeploy", *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_takes_ansibles_vault_flags(tmp_path, passwords):
    inventory = vaulted_group_vars(tmp_path / "inv", passwords["right"])
    refused = fleetdeploy("history", inventory, "--service", "mnist")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"error: {inventory / 'group_vars' / 'all.yml'}: vault-encrypted and no vault password was given; "
        + "pass --vault-password-file FILE, --vault-id [LABEL@]FILE or --ask-vault-pass "
        + "(or set ANSIBLE_VAULT_PASSWORD_FILE)"
    ]
    wrong = fleetdeploy("history", inventory, "--service", "mnist", "--vault-password-file", passwords["wrong"])
    assert wrong.returncode == 2 and "does not decrypt it" in wrong.stderr, wrong.stderr
    missing = fleetdeploy("history", inventory, "--service", "mnist", "--vault-password-file", tmp_path / "nope")
    assert missing.returncode == 2 and f"vault password file {tmp_path / 'nope'}: no such file" in missing.stderr
    read = fleetdeploy("history", inventory, "--service", "mnist", "--vault-password-file", passwords["right"])
    assert "vault" not in read.stderr.lower() and "Traceback" not in read.stderr, read.stderr
