"""`fleetdeploy model` over the registry, as a user types it."""

import json

from click.testing import CliRunner

from fleetdeploy.cli import main
from tests.unit.models.conftest import RunsCode


def fleetdeploy(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def test_register_list_show_tag_download(tmp_path, make_file, ridge):
    ws = tmp_path / "ws"
    path = make_file("sklearn_regression_model.pkl", ridge)
    done = fleetdeploy("model", "register", path, "-n", "sklearn_regression_model", "--tag", "area=diabetes",
                       "--description", "Ridge", "-w", ws)
    assert done.exit_code == 0 and done.output.startswith("registered sklearn_regression_model:1 (1 file(s)), "
                                                          "saved by scikit-learn"), done.output
    listed = fleetdeploy("model", "list", "--tag", "area=diabetes", "-w", ws, "--json")
    assert [entry["version"] for entry in json.loads(listed.output)] == [1]
    shown = json.loads(fleetdeploy("model", "show", "sklearn_regression_model", "-w", ws).output)
    assert shown["description"] == "Ridge" and shown["files"][0]["path"] == "sklearn_regression_model.pkl"
    tagged = fleetdeploy("model", "tag", "sklearn_regression_model", "-v", "1", "--add", "stage=prod", "-w", ws)
    assert tagged.output.strip() == "sklearn_regression_model:1: area=diabetes, stage=prod"
    out = tmp_path / "out"
    downloaded = fleetdeploy("model", "download", "sklearn_regression_model", "-o", out, "-w", ws)
    assert downloaded.output.strip() == str(out / "sklearn_regression_model.pkl")


def test_errors_are_one_line_naming_what_to_fix(tmp_path, make_file):
    ws = tmp_path / "ws"
    refused = fleetdeploy("model", "register", make_file("evil.pkl", [RunsCode()], how="pickle"), "-n", "evil",
                          "-w", ws)
    assert refused.exit_code != 0 and "posix.system" in refused.output and "--trust" in refused.output
    assert "Traceback" not in refused.output
    missing = fleetdeploy("model", "list", "--tag", "stage=prod", "-w", ws)
    assert missing.exit_code != 0 and "no registered model matches tags stage=prod" in missing.output
    bad_tag = fleetdeploy("model", "register", tmp_path, "-n", "x", "--tag", "novalue", "-w", ws)
    assert bad_tag.exit_code != 0 and "--tag 'novalue': write key=value" in bad_tag.output
