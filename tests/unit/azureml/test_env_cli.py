"""`fleetdeploy env register|list|build`: the SDK's Environment from the command line."""

from pathlib import Path

from click.testing import CliRunner

from fleetdeploy.cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mnist"


def env_cli(*args):
    return CliRunner().invoke(main, ["env", *map(str, args)])


def test_register_counts_versions_only_when_the_file_changes_and_list_shows_them(tmp_path):
    ws = tmp_path / "ws"
    assert env_cli("register", EXAMPLE / "requirements.txt", "-n", "tutorial-env", "-w", ws).output == \
        "environment tutorial-env version 1 (pip)\n"
    assert "version 1 (pip)" in env_cli("register", EXAMPLE / "requirements.txt", "-n", "tutorial-env", "-w", ws).output
    conda = tmp_path / "conda_dependencies.yml"
    conda.write_text("dependencies:\n  - python=3.11\n  - scikit-learn\n")
    assert "version 2 (conda)" in env_cli("register", conda, "-n", "tutorial-env", "-w", ws).output
    assert env_cli("list", "-w", ws).output == "tutorial-env  versions 1, 2\n"


def test_building_an_unknown_environment_names_the_registered_ones(tmp_path):
    ws = tmp_path / "ws"
    env_cli("register", EXAMPLE / "requirements.txt", "-n", "tutorial-env", "-w", ws)
    done = env_cli("build", "nope", "-w", ws)
    assert done.exit_code != 0 and "no registered environment named 'nope'" in done.output
    assert "(registered: tutorial-env)" in done.output
    done = env_cli("build", "tutorial-env", "--version", "9", "-w", ws)
    assert done.exit_code != 0 and "has no version 9 (versions: 1)" in done.output
