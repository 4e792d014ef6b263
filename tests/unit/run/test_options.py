"""-e/--extra-vars and --forks from the command line (fleetdeploy/run/options.py), and -i INVENTORY."""

import os

import pytest
from click.testing import CliRunner

from fleetdeploy.errors import ConfigError
from fleetdeploy.run import options


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fleet_verify_ready_timeout=5 release='a b'", {"fleet_verify_ready_timeout": "5", "release": "a b"}),
        ('{"workers": 4, "gpus": "all"}', {"workers": 4, "gpus": "all"}),
        ("---\nworkers: 4\n", {"workers": 4}),
    ],
)
def test_extra_vars_are_read_as_ansible_playbook_reads_them(value, expected):
    assert options.parse_extra_vars(value) == expected


def test_extra_vars_from_a_file(tmp_path):
    (tmp_path / "vars.yml").write_text("workers: 2\nlabels: {site: lab}\n")
    assert options.parse_extra_vars(f"@{tmp_path / 'vars.yml'}") == {"workers": 2, "labels": {"site": "lab"}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("workers", "'workers' is not key=value"),
        ("2workers=3", "'2workers=3' is not key=value"),
        ('{"workers": 1', "not a JSON or YAML mapping"),
        ("[1, 2]", "is not a mapping of variable names to values"),
        ("@/no/such/file.yml", "cannot read /no/such/file.yml"),
        ("", "empty value"),
    ],
)
def test_bad_extra_vars_name_the_value(value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        options.parse_extra_vars(value)


def test_runs_get_the_extra_vars_under_their_own_values(monkeypatch):
    monkeypatch.setattr(options, "_extra_vars", {})
    options.add_extra_vars(["a=1 b=2", '{"b": 3}'])
    assert options.extra_vars() == {"a": "1", "b": 3}


def test_forks_reach_the_runs_through_the_environment(monkeypatch):
    monkeypatch.delenv("ANSIBLE_FORKS", raising=False)
    options.use_forks(25)
    assert os.environ["ANSIBLE_FORKS"] == "25"


def _history(*args):
    from fleetdeploy.cli import main

    return CliRunner().invoke(main, ["history", *args])


def test_the_inventory_is_given_once_positionally_or_with_dash_i(tmp_path):
    both = _history(str(tmp_path / "a.yml"), "-i", str(tmp_path / "b.yml"), "--service", "mnist")
    assert both.exit_code == 2 and "give the inventory once: INVENTORY or -i INVENTORY" in both.output
    neither = _history("--service", "mnist")
    assert neither.exit_code == 2 and "give the inventory once" in neither.output
    missing = _history("-i", str(tmp_path / "missing.yml"), "--service", "mnist")
    assert str(tmp_path / "missing.yml") in missing.output  # -i went where the positional goes


def test_a_bad_extra_var_is_a_usage_error_naming_it(tmp_path):
    done = _history(str(tmp_path / "a.yml"), "--service", "mnist", "-e", "oops")
    assert done.exit_code == 2 and "'oops' is not key=value" in done.output
