"""fleetdeploy.vault without Ansible: what the vault flags put in the environment."""

import os
import stat
from pathlib import Path

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.vault import IDENTITY_LIST, use_vault


@pytest.fixture(autouse=True)
def clean_identities(monkeypatch):
    monkeypatch.delenv(IDENTITY_LIST, raising=False)


def test_password_files_and_ids_join_the_identities_already_set(tmp_path, monkeypatch):
    monkeypatch.setenv(IDENTITY_LIST, "site@/etc/site-vault")
    (tmp_path / "pw").write_text("x\n")
    use_vault(vault_ids=["prod@prompt"], password_files=[tmp_path / "pw"])
    use_vault(password_files=[tmp_path / "pw"])  # a repeat is not listed twice
    assert os.environ[IDENTITY_LIST] == f"site@/etc/site-vault,{tmp_path / 'pw'},prod@prompt"


def test_an_asked_password_lives_in_a_private_file(monkeypatch):
    use_vault(ask=True, prompt=lambda text: "typed secret" if text == "Vault password: " else "")
    path = Path(os.environ[IDENTITY_LIST])
    assert path.read_text() == "typed secret\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_missing_password_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=f"vault password file {tmp_path / 'nope'}: no such file"):
        use_vault(vault_ids=[f"prod@{tmp_path / 'nope'}"])
    assert IDENTITY_LIST not in os.environ
