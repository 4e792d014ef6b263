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


@pytest.mark.parametrize(("count", "ansible"), [(0, 0), (1, 0), (2, 1), (5, 4)])
def test_the_first_v_shows_ansibles_output_and_each_further_one_is_ansibles(monkeypatch, count, ansible):
    monkeypatch.setattr(options, "_verbosity", 0)
    options.use_verbosity(count)
    assert (options.verbosity(), options.ansible_verbosity()) == (count, ansible)


def test_runs_start_ansible_playbook_at_the_command_lines_verbosity(monkeypatch, tmp_path):
    import ansible_runner

    from fleetdeploy.run import runner

    seen = {}

    class Stop(Exception):
        pass

    def fake_run(**kwargs):
        seen.update(kwargs)
        raise Stop

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "site.yml").write_text("[]\n")
    monkeypatch.setattr(ansible_runner, "run", fake_run)
    monkeypatch.setattr(options, "_verbosity", 3)
    with pytest.raises(Stop):
        runner.run_playbook(tmp_path, "site.yml")
    assert seen["verbosity"] == 2
    with pytest.raises(Stop):
        runner.run_playbook(tmp_path, "site.yml", verbosity=0)  # a caller's own choice wins
    assert seen["verbosity"] is None


@pytest.mark.parametrize(
    ("command", "takes", "refuses"),
    [
        ("apply", ["-v", "-e", "--forks", "-K", "--vault-id"], []),
        ("status", ["-v", "-e", "--forks", "-K", "--vault-id"], []),
        ("rollback", ["-v", "-e", "--forks", "-K", "--vault-id"], []),
        ("unlock", ["-v", "-e", "--forks", "-K", "--vault-id"], []),
        # logs reads over ssh itself; render runs nothing: neither takes a flag it would ignore.
        ("logs", ["-K", "--vault-id"], ["-v", "-e", "--forks"]),
        ("render", ["--vault-id"], ["-v", "-e", "--forks", "-K"]),
    ],
)
def test_each_command_takes_the_ansible_flags_it_uses_and_no_other(command, takes, refuses):
    from fleetdeploy.cli import main

    options_of = {
        name for param in main.commands[command].params for name in (*param.opts, *param.secondary_opts)
    }
    assert set(takes) <= options_of, f"{command} lacks {set(takes) - options_of}"
    assert not set(refuses) & options_of, f"{command} takes {set(refuses) & options_of}, which it would ignore"
