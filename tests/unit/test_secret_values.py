"""Secret values on the controller: read from each source, digested with the fleet key (never a plain
hash), written to a private file; vaulted sources need the right password, named when missing."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.secret_values import fleet_key, secret_values, secrets_identity, write_secrets_file
from fleetdeploy.spec import load_spec
from fleetdeploy.vault import IDENTITY_LIST
from tests.unit.spec.test_secrets_spec import BASE

PASSWORD = "vault-pass-for-tests"


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLEETDEPLOY_FLEET_KEY_FILE", raising=False)
    monkeypatch.delenv(IDENTITY_LIST, raising=False)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)


def encrypt(text: str) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(PASSWORD.encode()))]).encrypt(text).decode()


def spec_with(tmp_path, secrets_yaml: str):
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 1\n")
    (tmp_path / "m.pkl").write_bytes(b"model")
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "fleetdeploy.yml").write_text(BASE + secrets_yaml)
    return load_spec(tmp_path / "fleetdeploy.yml")


def with_password(tmp_path, monkeypatch, password: str = PASSWORD) -> None:
    (tmp_path / "vault-pass").write_text(password + "\n")
    monkeypatch.setenv(IDENTITY_LIST, str(tmp_path / "vault-pass"))


def test_values_come_from_env_plain_file_vaulted_file_and_inline_vault(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "from-env")
    (tmp_path / "licence.txt").write_text("plain-file\n")
    (tmp_path / "key.vault").write_text(encrypt("vaulted-file\n"))
    inline = "\n".join("    " + line for line in encrypt("inline-vault").splitlines())
    spec = spec_with(
        tmp_path,
        "secrets:\n  DB: {env: DB_PASSWORD}\n  LICENCE: {file: licence.txt}\n  KEY: {file: key.vault}\n"
        f"  INLINE: !vault |\n{inline}\n",
    )
    with_password(tmp_path, monkeypatch)
    assert secret_values(spec) == {
        "DB": "from-env", "LICENCE": "plain-file", "KEY": "vaulted-file", "INLINE": "inline-vault",
    }


def test_a_vaulted_secret_without_or_with_a_wrong_password_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "key.vault").write_text(encrypt("vaulted-file"))
    spec = spec_with(tmp_path, "secrets: {KEY: {file: key.vault}}\n")
    with pytest.raises(ConfigError, match=r"secrets.KEY: file .*key.vault is vault-encrypted and no vault "
                                          r"password was given; pass --vault-password-file"):
        secret_values(spec)
    with_password(tmp_path, monkeypatch, "wrong")
    with pytest.raises(ConfigError, match=r"secrets.KEY: the vault password given does not decrypt file"):
        secret_values(spec)


def test_a_variable_unset_after_loading_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN", "x")
    spec = spec_with(tmp_path, "secrets: {API: {env: TOKEN}}\n")
    monkeypatch.delenv("TOKEN")
    with pytest.raises(ConfigError, match="secrets.API: environment variable TOKEN is not set"):
        secret_values(spec)


def test_the_identity_is_keyed_names_and_digest_never_a_plain_hash(tmp_path, monkeypatch):
    values = {"DB": "hunter2"}
    first = secrets_identity(values)
    assert first["names"] == ["DB"] and first == secrets_identity(values)
    plain = hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert first["hmac"] not in plain and "hunter2" not in json.dumps(first)
    assert secrets_identity({"DB": "hunter3"})["hmac"] != first["hmac"]  # a rotation is a new release
    key_file = tmp_path / "home" / "fleet.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = tmp_path / "shared.key"
    other.write_text("f" * 64)
    monkeypatch.setenv("FLEETDEPLOY_FLEET_KEY_FILE", str(other))
    assert fleet_key() == b"f" * 64
    assert secrets_identity(values)["hmac"] != first["hmac"]  # another fleet key, another digest
    assert secrets_identity({}) == {}


def test_the_file_is_private_and_outside_any_run_folder(tmp_path):
    path = write_secrets_file({"DB": "hunter2", "PEM": "line1\nline2"})
    assert json.loads(path.read_text()) == {"DB": "hunter2", "PEM": "line1\nline2"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "runs" not in path.parts
    assert write_secrets_file({}) is None


def test_the_systemd_file_escapes_what_systemd_would_read_otherwise(tmp_path):
    from fleetdeploy.secret_values import systemd_environment_file

    text = systemd_environment_file({"B": "plain", "A": 'q"d$HOME`t`b\\s\nline2'})
    assert text == 'A="q\\"d\\$HOME\\`t\\`b\\\\s\nline2"\nB="plain"\n'
    path = write_secrets_file({"A": "x"}, systemd=True)
    assert path.name == "secrets.env" and path.read_text() == 'A="x"\n'
