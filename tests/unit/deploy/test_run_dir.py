"""Run folders hold an inventory copy and Ansible's output: the user's only."""

import stat

from fleetdeploy.deploy.apply import new_run_dir


def test_a_run_folder_and_the_folders_above_it_are_the_users_only(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path))
    run = new_run_dir("mnist")
    assert run.parent.parent == tmp_path / "runs"
    for folder in (run, run.parent, run.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
