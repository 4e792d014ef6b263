"""What ships from source_dir: built-in excludes, .amlignore / .fleetdeployignore, paths the command
names, and symlinks that leave the folder."""

from pathlib import Path

import pytest

from fleetdeploy.code_selection import shipment_report, shipped_files
from fleetdeploy.errors import ConfigError


def make(root: Path, *files: str) -> Path:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {rel}\n")
    return root


def shipped(root: Path, leave_out=()) -> list[str]:
    return [path.relative_to(root.resolve()).as_posix() for path in shipped_files(root, leave_out)]


def test_what_a_developer_keeps_beside_the_code_never_ships(tmp_path):
    make(
        tmp_path,
        "score.py",
        "lib/util.py",
        ".git/config",
        ".venv/bin/python",
        "venv/lib/site.py",
        "__pycache__/score.cpython-311.pyc",
        "lib/old.pyc",
        ".env",
        ".env.production",
        ".ipynb_checkpoints/explore-checkpoint.ipynb",
        "notebooks/.ipynb_checkpoints/a.ipynb",
    )
    assert shipped(tmp_path) == ["lib/util.py", "score.py"]


def test_amlignore_then_fleetdeployignore_are_honoured_in_gitignore_syntax(tmp_path):
    make(tmp_path, "score.py", "data/train.csv", "data/labels.csv", "tests/test_score.py", "keep.csv", "x.csv")
    (tmp_path / ".amlignore").write_text("# Azure ML's ignore file\ndata/\n*.csv\n")
    (tmp_path / ".fleetdeployignore").write_text("tests/\n!keep.csv\n")
    assert shipped(tmp_path) == ["keep.csv", "score.py"]


def test_paths_the_command_names_are_left_out(tmp_path):
    make(tmp_path, "score.py", "fleetdeploy.yml", "inventories/prod/hosts.yml", "inventory.yml")
    leave_out = [tmp_path / "fleetdeploy.yml", tmp_path / "inventories", tmp_path / "inventory.yml"]
    assert shipped(tmp_path, leave_out) == ["score.py"]


def test_a_symlink_out_of_source_dir_is_refused_naming_the_link(tmp_path):
    project = make(tmp_path / "project", "score.py")
    (project / "config").symlink_to("/etc")
    with pytest.raises(ConfigError) as refused:
        shipped_files(project)
    message = str(refused.value)
    assert f"{project / 'config'} is a symlink to /etc, outside {project}" in message
    assert ".fleetdeployignore" in message


def test_a_linked_file_out_of_source_dir_is_refused_too(tmp_path):
    secret = make(tmp_path, "home/.netrc") / "home" / ".netrc"
    project = make(tmp_path / "project", "score.py")
    (project / "netrc").symlink_to(secret)
    with pytest.raises(ConfigError, match="netrc is a symlink to"):
        shipped_files(project)


def test_an_ignored_link_is_not_followed_nor_refused(tmp_path):
    project = make(tmp_path / "project", "score.py")
    (project / "config").symlink_to("/etc")
    (project / ".fleetdeployignore").write_text("config\n")
    assert shipped(project) == ["score.py"]


def test_a_link_inside_source_dir_ships_its_content(tmp_path):
    project = make(tmp_path / "project", "score.py", "shared/labels.txt")
    (project / "labels.txt").symlink_to(project / "shared" / "labels.txt")
    assert shipped(project) == ["labels.txt", "score.py", "shared/labels.txt"]


def test_a_pattern_git_would_refuse_names_the_file_and_line(tmp_path):
    make(tmp_path, "score.py")
    (tmp_path / ".amlignore").write_text("data/\n!\n")
    with pytest.raises(ConfigError, match=r"\.amlignore:2: '!' is not a gitignore pattern"):
        shipped_files(tmp_path)


def test_the_report_sums_the_code_lists_it_when_asked_and_warns_over_50_mb(tmp_path):
    make(tmp_path, "score.py")
    (tmp_path / "weights.bin").write_bytes(b"\0" * (51 * 1024 * 1024))
    files = ["score.py", "weights.bin"]
    short = shipment_report(tmp_path, files)
    assert short[0] == f"code: 2 file(s), 51.0 MB from {tmp_path}"
    assert "warning: 51.0 MB of code ships to every node; the largest: weights.bin (51.0 MB), score.py" in short[1]
    listed = shipment_report(tmp_path, ["score.py"], every_file=True)
    assert listed == [f"code: 1 file(s), 20 B from {tmp_path}", "       20 B  score.py"]
