import os
import tarfile
from pathlib import Path

import pytest

from fleetdeploy.artifacts import ModelInput, release_id, stage_artifacts
from fleetdeploy.digests import file_sha256
from fleetdeploy.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    _write(root / "score.py", "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    _write(root / "helpers" / "util.py", "X = 1\n")
    _write(root / "model" / "model.pkl", "weights-v1")
    _write(root / "fleetdeploy.yml", "service: demo\n")
    _write(root / "__pycache__" / "score.cpython-311.pyc", "bytecode")
    _write(root / "helpers" / "util.pyc", "bytecode")
    _write(root / ".git" / "HEAD", "ref: refs/heads/main\n")
    _write(tmp_path / "bert" / "config.json", "{}")
    _write(tmp_path / "bert" / "weights" / "w.bin", "w")
    return root


def _stage(project: Path, out: Path, **kwargs):
    models = [
        ("sklearn_mnist", 1, project / "model" / "model.pkl"),
        ModelInput("bert", "3", project.parent / "bert"),
    ]
    return stage_artifacts(
        models, project, Path("score.py"), out, exclude=(project / "fleetdeploy.yml",), **kwargs
    )


def test_layout_keeps_model_names_and_ships_code_without_models_or_caches(project, tmp_path):
    staged = _stage(project, tmp_path / "run")
    out = tmp_path / "run"
    assert (out / "models/sklearn_mnist/1/model.pkl").read_text() == "weights-v1"
    assert (out / "models/bert/3/bert/weights/w.bin").read_text() == "w"
    assert staged.models[1].files == {
        "bert/config.json": file_sha256(project.parent / "bert/config.json"),
        "bert/weights/w.bin": file_sha256(project.parent / "bert/weights/w.bin"),
    }
    assert staged.code_dir == out / "code" / staged.code_hash
    assert sorted(staged.code_files) == ["helpers/util.py", "score.py"]
    shipped = sorted(
        p.relative_to(staged.code_dir).as_posix() for p in staged.code_dir.rglob("*") if p.is_file()
    )
    assert shipped == ["helpers/util.py", "score.py"]
    assert staged.entry_script == "score.py"


def test_code_archive_holds_the_code_folder_owned_by_root_with_plain_modes(project, tmp_path):
    (project / "helpers" / "run.sh").write_text("#!/bin/sh\n")
    (project / "helpers" / "run.sh").chmod(0o700)
    (project / "score.py").chmod(0o600)
    staged = _stage(project, tmp_path / "run")
    assert staged.code_archive == tmp_path / "run" / "code" / f"{staged.code_hash}.tar.gz"
    with tarfile.open(staged.code_archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["helpers", "helpers/run.sh", "helpers/util.py", "score.py"]
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "root", "root")}
        assert {name: oct(m.mode) for name, m in members.items()} == {
            "helpers": "0o755", "helpers/run.sh": "0o755", "helpers/util.py": "0o644", "score.py": "0o644"
        }
        assert tar.extractfile("score.py").read() == (project / "score.py").read_bytes()


def test_hashes_are_deterministic_across_folders(project, tmp_path):
    first = _stage(project, tmp_path / "a")
    second = _stage(project, tmp_path / "b")
    assert (first.code_hash, first.models_hash) == (second.code_hash, second.models_hash)
    assert len(first.code_hash) == 64 and first.code_hash != first.models_hash


def test_score_change_changes_only_code_hash(project, tmp_path):
    before = _stage(project, tmp_path / "a")
    (project / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return 2\n")
    after = _stage(project, tmp_path / "b")
    assert after.code_hash != before.code_hash
    assert after.models_hash == before.models_hash


def test_model_change_changes_only_models_hash(project, tmp_path):
    before = _stage(project, tmp_path / "a")
    (project / "model" / "model.pkl").write_text("weights-v2")
    after = _stage(project, tmp_path / "b")
    assert after.models_hash != before.models_hash
    assert after.code_hash == before.code_hash


def test_renaming_a_code_file_changes_code_hash(project, tmp_path):
    before = _stage(project, tmp_path / "a")
    (project / "helpers" / "util.py").rename(project / "helpers" / "other.py")
    assert _stage(project, tmp_path / "b").code_hash != before.code_hash


def test_out_dir_inside_source_dir_is_not_shipped_as_code(project):
    staged = _stage(project, project / ".fleetdeploy" / "run1")
    assert sorted(staged.code_files) == ["helpers/util.py", "score.py"]


def test_restaging_into_the_same_folder_drops_stale_files(project, tmp_path):
    _stage(project, tmp_path / "run")
    (project.parent / "bert" / "weights" / "w.bin").unlink()
    staged = _stage(project, tmp_path / "run")
    assert not (tmp_path / "run/models/bert/3/bert/weights/w.bin").exists()
    assert "bert/weights/w.bin" not in staged.models[1].files


def test_staged_files_are_hardlinks_on_one_filesystem(project, tmp_path):
    staged = _stage(project, tmp_path / "run")
    assert os.stat(staged.code_dir / "score.py").st_ino == os.stat(project / "score.py").st_ino


def test_release_id_depends_on_every_input(project, tmp_path):
    staged = _stage(project, tmp_path / "a")
    base = release_id("sha256:abc", staged, {"cpus": 1.0, "memory": "1g"})
    assert len(base) == 12 and int(base, 16) >= 0
    assert base == release_id("sha256:abc", staged, {"memory": "1g", "cpus": 1.0})
    assert base != release_id("sha256:abd", staged, {"cpus": 1.0, "memory": "1g"})
    assert base != release_id("sha256:abc", staged, {"cpus": 2.0, "memory": "1g"})
    (project / "score.py").write_text("changed")
    assert base != release_id("sha256:abc", _stage(project, tmp_path / "b"), {"cpus": 1.0, "memory": "1g"})


def test_manifest_is_plain_data(project, tmp_path):
    manifest = _stage(project, tmp_path / "a").manifest()
    assert manifest["models"][0]["name"] == "sklearn_mnist"
    assert manifest["models"][0]["version"] == "1"
    assert list(manifest["code_files"]) == ["helpers/util.py", "score.py"]


@pytest.mark.parametrize(
    ("models", "script", "message"),
    [
        ([("m", 1, "missing.pkl")], "score.py", r"models\[0\] \(m\)\.path: .*missing.pkl does not exist"),
        ([], "score.py", "models: at least one model"),
        (
            [("m", 1, "model/model.pkl"), ("m", 1, "model/model.pkl")],
            "score.py",
            r"models\[1\] \(m\): version 1",
        ),
        ([("m", 1, "model/model.pkl")], "nope.py", r"entry_script.path: .*nope.py does not exist"),
        ([("m", 1, "model/model.pkl")], "../outside.py", "is not inside source_dir"),
        ([("m", 1, "empty")], "score.py", r"models\[0\] \(m\)\.path: folder .*empty holds no files"),
    ],
)
def test_bad_input_names_the_field(project, tmp_path, models, script, message):
    (project / "empty").mkdir()
    _write(tmp_path / "outside.py", "")
    models = [(name, version, project / path) for name, version, path in models]
    with pytest.raises(ConfigError, match=message):
        stage_artifacts(models, project, Path(script), tmp_path / "out")


def test_entry_script_that_is_excluded_is_refused(project, tmp_path):
    with pytest.raises(ConfigError, match="entry_script: score.py is excluded"):
        stage_artifacts(
            [("m", 1, project / "model" / "model.pkl")],
            project,
            Path("score.py"),
            tmp_path / "o",
            exclude=(project / "score.py",),
        )


def test_models_hash_is_the_digest_the_scoring_server_reports(project, tmp_path):
    from fleetdeploy.serve.identity import models_identity

    several = _stage(project, tmp_path / "several")
    assert several.model_dir_suffix == ""
    assert models_identity(several.models_dir / several.model_dir_suffix)["sha256"] == several.models_hash

    one = stage_artifacts(
        [("sklearn_mnist", 1, project / "model")], project, Path("score.py"), tmp_path / "one"
    )
    assert one.model_dir_suffix == "sklearn_mnist/1"
    assert models_identity(one.models_dir / one.model_dir_suffix)["sha256"] == one.models_hash


def test_exclude_may_hold_none_for_a_spec_built_in_code(project, tmp_path):
    staged = stage_artifacts(
        [("m", 1, project / "model")], project, Path("score.py"), tmp_path / "o", exclude=(None,)
    )
    assert "fleetdeploy.yml" in staged.code_files
