"""The server puts the release's secrets into its environment from the file Docker mounts, and refuses a
broken one by name, without showing a value."""

from __future__ import annotations

import json

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.serve.secrets_file import load_secrets


def test_the_mounted_file_named_by_the_variable_is_loaded(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"DB": "hunter2", "PEM": "a\nb"}))
    environ = {"FLEETDEPLOY_SECRETS_FILE": str(path)}
    assert load_secrets(environ) == ["DB", "PEM"]
    assert environ["DB"] == "hunter2" and environ["PEM"] == "a\nb"


def test_no_file_means_nothing_changes():
    environ = {"HOME": "/root"}
    assert load_secrets(environ) == [] and environ == {"HOME": "/root"}


@pytest.mark.parametrize("content", ['hunter2 {"DB"', '["hunter2"]', '{"DB": 1, "KEY": "hunter2"}'])
def test_a_broken_file_is_named_without_its_content(tmp_path, content):
    path = tmp_path / "secrets.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="is not a JSON object of names to strings") as caught:
        load_secrets({"FLEETDEPLOY_SECRETS_FILE": str(path)})
    assert "hunter2" not in str(caught.value)


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the secrets file .*missing.json"):
        load_secrets({"FLEETDEPLOY_SECRETS_FILE": str(tmp_path / "missing.json")})
