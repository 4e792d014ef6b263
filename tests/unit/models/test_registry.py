"""The model registry: versions counting up, content-addressed files, tags, lookups that name what
exists, and pickles scanned at the door."""

import json
import os
import stat

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.registry import Workspace
from tests.unit.models.conftest import RunsCode


@pytest.fixture
def workspace(tmp_path):
    return Workspace(tmp_path / "ws")


def test_the_seeds_register_call_gives_version_1_then_2_with_one_stored_copy(workspace, make_file, ridge):
    path = make_file("sklearn_regression_model.pkl", ridge)
    first = workspace.register(path, "sklearn_regression_model", tags={"area": "diabetes", "type": "regression"},
                               description="Ridge regression model to predict diabetes")
    second = workspace.register(path, "sklearn_regression_model")
    assert (first.version, second.version) == (1, 2)
    assert first.path.read_bytes() == path.read_bytes() and first.path.name == path.name
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o444  # versions are immutable
    blobs = list((workspace.path / "blobs").rglob("*"))
    assert len([blob for blob in blobs if blob.is_file()]) == 1  # the same bytes are kept once
    assert first.files[0]["sha256"] == second.files[0]["sha256"]
    assert first.properties["sklearn_version"] == __import__("sklearn").__version__
    assert first.properties["pickle_scan"]["sklearn_regression_model.pkl"]["pickle_format"] == "pickle"


def test_a_folder_keeps_its_name_and_files(workspace, tmp_path, make_file, ridge):
    folder = tmp_path / "bundle"
    folder.mkdir()
    make_file("bundle/model.pkl", ridge)
    (folder / "labels.json").write_text('["a", "b"]')
    model = workspace.register(folder, "bundle")
    assert model.path.name == "bundle" and sorted(p.name for p in model.path.iterdir()) == ["labels.json", "model.pkl"]
    assert [f["path"] for f in model.files] == ["bundle/labels.json", "bundle/model.pkl"]


def test_lookups_by_version_tag_and_latest(workspace, make_file, ridge):
    path = make_file("m.pkl", ridge)
    workspace.register(path, "m", tags={"stage": "prod"})
    workspace.register(path, "m", tags={"stage": "dev"})
    assert workspace.get("m").version == 2
    assert workspace.get("m", 1).version == 1 and workspace.get("m", "latest").version == 2
    assert workspace.get("m", tag="stage=prod").version == 1 and workspace.get("m", tag="stage").version == 2
    assert [model.id for model in workspace.list(tags=["stage=dev"])] == ["m:2"]
    assert workspace.list("m", ["stage=qa"]) == []


@pytest.mark.parametrize(("call", "message"), [
    (lambda ws: ws.get("nope"), r"no registered model named 'nope' in .* \(registered: m\)"),
    (lambda ws: ws.get("m", 7), r"model m has no version 7 \(versions: 1\)"),
    (lambda ws: ws.get("m", tag="stage=qa"), r"no version of model m has tag 'stage=qa'"),
    (lambda ws: ws.register("/no/such/model.pkl", "m"), r"model_path /no/such/model.pkl: no such file or folder"),
    (lambda ws: ws.register(__file__, "../up"), r"model_name '../up': use letters"),
])
def test_bad_lookups_name_what_exists(workspace, make_file, ridge, call, message):
    workspace.register(make_file("m.pkl", ridge), "m")
    with pytest.raises(ConfigError, match=message):
        call(workspace)


def test_a_pickle_that_runs_code_is_refused_at_the_door_unless_trusted(workspace, make_file):
    path = make_file("evil.pkl", [RunsCode()], how="pickle")
    with pytest.raises(ConfigError, match=r"evil.pkl: loading it would import posix.system \(runs code"):
        workspace.register(path, "evil")
    assert workspace.versions("evil") == []  # nothing half-made
    trusted = workspace.register(path, "evil", trust=True)
    assert trusted.properties["pickle_scan"]["evil.pkl"]["pickle_unsafe_imports"] == ["posix.system"]


def test_tags_change_and_nothing_else(workspace, make_file, ridge):
    model = workspace.register(make_file("m.pkl", ridge), "m", tags={"stage": "dev", "owner": "ana"})
    updated = workspace.tag("m", 1, add={"stage": "prod"}, remove=["owner"])
    assert updated.tags == {"stage": "prod"} and workspace.get("m").tags == {"stage": "prod"}
    assert workspace.get("m").files == model.files


def test_download_makes_a_writable_copy_and_keeps_an_existing_file_unless_told(workspace, tmp_path, make_file, ridge):
    workspace.register(make_file("m.pkl", ridge), "m")
    target = workspace.download("m", None, tmp_path / "out")
    assert target == tmp_path / "out" / "m.pkl" and os.access(target, os.W_OK)
    with pytest.raises(ConfigError, match="exists; pass exist_ok=True"):
        workspace.download("m", 1, tmp_path / "out")
    assert workspace.download("m", 1, tmp_path / "out", exist_ok=True) == target


def test_from_config_finds_the_workspace_upward_as_azure_does(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path / "home"))
    deep = tmp_path / "project" / "notebooks" / "week1"
    deep.mkdir(parents=True)
    (tmp_path / "project" / "fleetdeploy-workspace.json").write_text(json.dumps({"workspace_dir": "registry"}))
    assert Workspace.from_config(start=deep).path == tmp_path / "project" / "registry"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"debug": true}')  # someone else's config.json
    assert Workspace.from_config(start=tmp_path / "other").path == tmp_path / "home" / "workspace"
    assert not (tmp_path / "home" / "workspace").exists()  # opening writes nothing; registering makes it
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConfigError, match='no "workspace_dir"'):
        Workspace.from_config(tmp_path / "bad.json")


def test_a_registration_that_fails_midway_leaves_no_version(workspace, make_file, ridge, monkeypatch):
    from fleetdeploy import registry

    def broken(*_args, **_kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(registry, "_write_record", broken)
    with pytest.raises(OSError):
        workspace.register(make_file("m.pkl", ridge), "m")
    monkeypatch.undo()
    assert workspace.versions("m") == []
    assert workspace.register(make_file("m.pkl", ridge), "m").version == 1
