"""Run folders hold an inventory copy and Ansible's output: the user's only, apply's and the day-two
operations' alike."""

import stat

import pytest

from fleetdeploy.paths import new_run_folder, prune_run_folders


@pytest.mark.parametrize(("kind", "action"), [("runs", ""), ("ops", "rollback")])
def test_a_run_folder_and_the_folders_above_it_are_the_users_only(tmp_path, monkeypatch, kind, action):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path))
    run = new_run_folder(kind, "mnist", action)
    assert run.parent.parent == tmp_path / kind
    assert run.name.endswith(f"-{action}") if action else "-" not in run.name
    for folder in (run, run.parent, run.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_pruning_keeps_the_newest_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path))
    runs = [new_run_folder("ops", "mnist", f"a{index}") for index in range(4)]
    prune_run_folders(runs[0].parent, keep=2)
    assert sorted(p.name for p in runs[0].parent.iterdir()) == sorted(r.name for r in runs[2:])
