"""The spec's `env` and `secrets`: each bad input named on its line, good ones typed."""

from __future__ import annotations

import pytest

from fleetdeploy.spec import load_spec
from fleetdeploy.spec.issues import SpecError

BASE = (
    "service: s\nmodels: [{name: m, path: m.pkl}]\nentry_script: {path: score.py}\n"
    "environment: {pip: requirements.txt}\n"
)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 1\n")
    (tmp_path / "m.pkl").write_bytes(b"model")
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "licence.txt").write_text("L-123\n")
    return tmp_path


def load(project, extra: str):
    (project / "fleetdeploy.yml").write_text(BASE + extra)
    return load_spec(project / "fleetdeploy.yml")


def problems(project, extra: str) -> str:
    with pytest.raises(SpecError) as caught:
        load(project, extra)
    return str(caught.value)


def test_env_values_become_text_and_secrets_keep_their_source(project, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "x")
    spec = load(
        project,
        "env: {URL: 'https://f.example', BATCH: 32, FAST: true}\n"
        "secrets:\n  DB: {env: DB_PASSWORD}\n  LICENCE: {file: licence.txt}\n"
        "  KEY: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    6162\n",
    )
    assert spec.env == {"URL": "https://f.example", "BATCH": "32", "FAST": "true"}
    assert spec.secrets["DB"].env == "DB_PASSWORD"
    assert spec.secrets["LICENCE"].file == project / "licence.txt"
    assert spec.secrets["KEY"].vault.startswith("$ANSIBLE_VAULT;1.1;AES256")


def test_names_that_are_not_variables_or_are_the_servers_own_are_refused(project):
    text = problems(project, "env: {1A: x, AZUREML_MODEL_DIR: y, FLEETDEPLOY_PORT: 1, OK: [1]}\n")
    assert "fleetdeploy.yml:5: env.1A: not an environment variable name" in text
    assert "env.AZUREML_MODEL_DIR: AZUREML_MODEL_DIR is the scoring server's own variable" in text
    assert "env.FLEETDEPLOY_PORT: FLEETDEPLOY_PORT is the scoring server's own variable" in text
    assert "env.OK: must be a string, number or true/false, got list" in text
    assert "secrets.AML_APP_ROOT: AML_APP_ROOT is the scoring server's own" in problems(
        project, "secrets: {AML_APP_ROOT: {file: licence.txt}}\n"
    )


def test_a_secret_source_that_is_missing_or_unclear_is_named(project, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    text = problems(
        project,
        "secrets:\n  PLAIN: hunter2\n  GONE: {env: NOT_SET_ANYWHERE}\n  NOFILE: {file: missing.key}\n"
        "  TWO: {env: HOME, file: licence.txt}\n  BADVAULT: {vault: abc}\n",
    )
    assert "secrets.PLAIN: a secret's value is never written in the spec" in text
    assert "secrets.GONE.env: environment variable NOT_SET_ANYWHERE is not set on this controller" in text
    assert "secrets.NOFILE.file: no such file: missing.key" in text
    assert "secrets.TWO: give exactly one source, got env, file" in text
    assert "secrets.BADVAULT.vault: not Ansible Vault ciphertext" in text
    assert "hunter2" not in text


def test_a_name_in_both_env_and_secrets_is_refused(project):
    text = problems(project, "env: {LICENCE: x}\nsecrets: {LICENCE: {file: licence.txt}}\n")
    assert "secrets.LICENCE: LICENCE given in both `env` and `secrets`" in text
