"""A service's keys on the controller (endpoint.auth: key): made once, 0600 or vaulted, one regenerated
while the other stays, and the file `fleetdeploy serve --auth-key-file` reads too."""

from __future__ import annotations

import hashlib
import stat

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.keys import ensure_keys, read_keys, regenerate
from fleetdeploy.serve.auth import parse_key_file
from fleetdeploy.spec import SpecError
from fleetdeploy.vault import IDENTITY_LIST
from tests.unit.test_secret_values import encrypt, spec_with, with_password


@pytest.fixture(autouse=True)
def no_vault(monkeypatch):
    monkeypatch.delenv(IDENTITY_LIST, raising=False)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)


def test_keys_are_made_once_private_and_distinct(tmp_path):
    path = tmp_path / "keys" / "mnist.keys"
    keys, made = ensure_keys(path)
    assert made and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.primary != keys.secondary and len(keys.primary) >= 43
    again, made_again = ensure_keys(path)
    assert again == keys and not made_again
    assert keys.hashes() == [hashlib.sha256(key.encode()).hexdigest() for key in (keys.primary, keys.secondary)]


def test_the_keys_file_is_the_one_serve_reads(tmp_path):
    path = tmp_path / "mnist.keys"
    keys, _ = ensure_keys(path)
    assert parse_key_file(path) == dict(zip(("primary", "secondary"), keys.hashes(), strict=True))


def test_regenerating_one_key_keeps_the_other(tmp_path):
    path = tmp_path / "mnist.keys"
    keys, _ = ensure_keys(path)
    new = regenerate(path, "secondary")
    assert new.primary == keys.primary and new.secondary != keys.secondary
    assert read_keys(path) == new and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="'tertiary' is not a key name"):
        regenerate(path, "tertiary")


def test_a_keys_file_others_can_read_is_refused_naming_it(tmp_path):
    path = tmp_path / "mnist.keys"
    path.write_text("primary a\nsecondary b\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=f"{path}: other users can read it \\(mode 0644\\): chmod 600"):
        read_keys(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("primary a\n", "no secondary key: `fleetdeploy keys regenerate --which secondary`"),
        ("primary a\nprimary b\nsecondary c\n", ":2: primary is given twice"),
        ("primary sha256:" + "0" * 64 + "\nsecondary b\n", ":1: expected '<primary|secondary|metrics> <key>'"),
        ("tertiary a\n", ":1: expected"),
        ("metrics a\n", "no primary and no secondary key"),
    ],
)
def test_a_bad_keys_file_names_file_and_line(tmp_path, text, problem):
    path = tmp_path / "mnist.keys"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=problem.replace("(", "\\(").replace("`", ".")):
        read_keys(path)


def test_a_metrics_token_is_added_when_asked_for_and_kept(tmp_path):
    path = tmp_path / "mnist.keys"
    keys, made = ensure_keys(path)
    assert keys.metrics is None and keys.metrics_hashes() == []
    with_token, made = ensure_keys(path, metrics=True)
    assert made == ["metrics"] and (with_token.primary, with_token.secondary) == (keys.primary, keys.secondary)
    assert with_token.metrics_hashes() == [hashlib.sha256(with_token.metrics.encode()).hexdigest()]
    assert ensure_keys(path, metrics=True) == (with_token, [])
    assert ensure_keys(path) == (with_token, [])  # turned off in the spec: kept in the file, not used
    # serve --auth-key-file reads the same file: the token opens /metrics alone there too.
    assert parse_key_file(path)["metrics"] == with_token.metrics_hashes()[0]
    rotated = regenerate(path, "metrics")
    assert rotated.metrics != with_token.metrics and rotated.primary == keys.primary


def test_a_new_keys_file_with_a_metrics_token_has_all_three(tmp_path):
    keys, made = ensure_keys(tmp_path / "k", metrics=True)
    assert made == ["primary", "secondary", "metrics"] and len({keys.primary, keys.secondary, keys.metrics}) == 3


def test_a_metrics_token_without_key_auth_is_refused(tmp_path):
    with pytest.raises(SpecError, match="endpoint.metrics_token: metrics_token is true but auth is not key"):
        spec_with(tmp_path, "endpoint:\n  metrics_token: true\n")


def test_a_vaulted_keys_file_is_read_and_stays_vaulted(tmp_path, monkeypatch):
    path = tmp_path / "mnist.keys"
    path.write_text(encrypt("primary one\nsecondary two\n"))
    path.chmod(0o644)  # encrypted: readable by others is no leak
    with pytest.raises(ConfigError, match="vault-encrypted and no vault password was given"):
        read_keys(path)
    with_password(tmp_path, monkeypatch)
    assert read_keys(path).primary == "one"
    new = regenerate(path, "primary")
    assert path.read_text().startswith("$ANSIBLE_VAULT") and new.secondary == "two"
    assert read_keys(path) == new


def test_key_auth_keeps_its_keys_beside_the_spec_unless_told(tmp_path):
    assert spec_with(tmp_path, "").keys_path is None
    spec = spec_with(tmp_path, "endpoint:\n  auth: key\n")
    assert spec.keys_path == tmp_path / "keys" / f"{spec.service}.keys"
    spec = spec_with(tmp_path, "endpoint:\n  auth: key\n  keys_file: secret/k.vault\n")
    assert spec.keys_path == tmp_path / "secret" / "k.vault"


def test_an_unknown_auth_mode_is_refused_with_the_choices(tmp_path):
    with pytest.raises(SpecError, match="endpoint.auth: not an auth mode: 'token' \\(none .* or key\\)"):
        spec_with(tmp_path, "endpoint:\n  auth: token\n")


@pytest.mark.parametrize("endpoint", ["endpoint:\n  auth: key\n", ""], ids=["auth on", "auth off again"])
def test_the_keys_file_is_never_shipped_as_code(tmp_path, endpoint):
    from fleetdeploy.artifacts import stage_spec_artifacts

    spec = spec_with(tmp_path, endpoint)
    ensure_keys(spec.keys_location)  # beside the spec, inside the code's folder
    staged = stage_spec_artifacts(spec, tmp_path / "out")
    assert not any(path.startswith("keys/") for path in staged.code_files), staged.code_files
