"""fleet_artifacts' completion markers: the node-side shell functions (roles/fleet_artifacts/vars/main.yml)
run here in `sh`, and fleet_inspect's `marked` must judge a marker as they do (apply --check says "on the
node, not sent" from it while apply decides from the shell's answer)."""

import os
from pathlib import Path

import pytest

from tests.unit.ops.conftest import load_node_module
from tests.unit.role_modules import artifacts_shell

node = load_node_module()

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the functions chown to root, as on a node")
shell = artifacts_shell


def is_marked(marker: Path) -> bool:
    """The role's answer; fleet_inspect's must be the same."""
    by_shell = shell('marked "$1"', str(marker)).returncode == 0
    assert node.marked(str(marker)) == by_shell
    return by_shell


@pytest.fixture
def folder(tmp_path):
    code = tmp_path / "code" / "c0ffee"
    (code / "pkg").mkdir(parents=True)
    (code / "score.py").write_text("def run(raw): return [2]\n")
    (code / "pkg" / "util.py").write_text("X = 1\n")
    return code


def test_a_marked_folder_stays_marked_until_a_file_in_it_changes(folder, tmp_path):
    marker = tmp_path / "code-c0ffee.done"
    assert shell('mark "$1" "$2"', str(marker), str(folder)).returncode == 0
    assert marker.read_text().splitlines()[0] == str(folder)
    assert is_marked(marker)

    with (folder / "score.py").open("a") as script:  # as a hot fix on the node: same size is no escape
        script.write("# hot fix\n")
    assert not is_marked(marker)


@pytest.mark.parametrize(
    "change",
    [
        lambda folder: (folder / "pkg" / "extra.py").write_text(""),
        lambda folder: (folder / "pkg" / "util.py").unlink(),
        lambda folder: os.chmod(folder / "score.py", 0o600),
        lambda folder: os.replace(folder / "pkg" / "util.py", folder / "util.py"),
    ],
    ids=["added", "removed", "chmod", "moved"],
)
def test_any_file_added_removed_or_touched_unmarks_the_folder(folder, tmp_path, change):
    marker = tmp_path / "m.done"
    shell('mark "$1" "$2"', str(marker), str(folder))
    change(folder)
    assert not is_marked(marker)


def test_a_marker_without_its_folder_or_from_before_listings_counts_for_nothing(folder, tmp_path):
    old = tmp_path / "code-c0ffee.done"
    old.write_text("c0ffee")  # what markers held before they kept a listing: the folder is checked again
    assert not is_marked(old)
    gone = tmp_path / "gone.done"
    shell('mark "$1" "$2"', str(gone), str(folder))
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    assert not is_marked(gone)


def files_in(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("listing", ["score.py\npkg/util.py\n", "./\n./score.py\n./pkg/\n./pkg/util.py\n"],
                         ids=["names", "tar -C dir ."])
def test_prune_removes_the_files_stdin_does_not_name(folder, listing):
    (folder / "pkg" / "added.py").write_text("")
    done = shell('prune "$1"', str(folder), stdin=listing)
    assert done.returncode == 0, done.stderr
    assert files_in(folder) == ["pkg/util.py", "score.py"]


def test_prune_given_no_names_removes_nothing(folder):
    assert shell('prune "$1"', str(folder), stdin="").returncode == 0
    assert files_in(folder) == ["pkg/util.py", "score.py"]
