from pathlib import Path

import pytest
import yaml

from fleetdeploy.errors import ConfigError
from fleetdeploy.render.variables import plain_data, to_ansible_json, to_yaml


def test_paths_become_strings_and_round_trip():
    data = plain_data({"fleet_artifacts_code_archive": Path("/stage/code"), "n": [1, 2.5, True, None]})
    assert yaml.safe_load(to_yaml(data)) == {
        "fleet_artifacts_code_archive": "/stage/code",
        "n": [1, 2.5, True, None],
    }


def test_template_markers_are_tagged_unsafe_for_ansible():
    text = to_yaml(plain_data({"fleet_verify_sample_request": '{"data": "{{ x }}"}', "plain": "a{b}"}))
    assert "fleet_verify_sample_request: !unsafe" in text
    assert "plain: a{b}" in text


def test_unsafe_strings_load_back_in_ansible_as_the_same_text():
    from ansible.parsing.yaml.loader import AnsibleLoader

    loaded = AnsibleLoader(to_yaml(plain_data({"body": "{% raw %}{{x}}"}))).get_single_data()
    assert str(loaded["body"]) == "{% raw %}{{x}}"


def test_the_json_vars_file_loads_in_ansible_with_the_same_values_and_unsafe_text_untemplated(tmp_path):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    data = plain_data({"body": '{"data": "{{ x }}"}', "n": [1, 2.5, True, None], "nested": {"path": Path("/p")}})
    path = tmp_path / "vars.json"
    path.write_text(to_ansible_json(data))
    # As a play's vars_files loads it (ansible-core's VariableManager): trusted, uncached.
    loaded = DataLoader().load_from_file(str(path), cache="vaulted", unsafe=True, trusted_as_template=True)
    assert loaded == {"body": '{"data": "{{ x }}"}', "n": [1, 2.5, True, None], "nested": {"path": "/p"}}
    templar = Templar(loader=DataLoader(), variables={**loaded, "x": "templated"})
    assert templar.template(loaded["body"]) == '{"data": "{{ x }}"}'  # marked unsafe: left as written
    assert templar.template(loaded["nested"]["path"]) == "/p"


def test_objects_are_refused_with_their_path():
    with pytest.raises(ConfigError, match=r"variables\.fleet_service_models\[0\]\.version: object"):
        plain_data({"fleet_service_models": [{"version": object()}]})


def test_non_string_keys_are_refused():
    with pytest.raises(ConfigError, match=r"variables: key 1 must be a string"):
        plain_data({1: "x"})
