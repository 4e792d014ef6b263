"""Drift is named per difference: what the node runs against its own release record, and that record
against the spec."""

import copy

from fleetdeploy.ops.drift import Desired, node_drift, spec_drift


def subjects(found):
    return [item.subject for item in found]


def test_a_node_running_exactly_its_release_has_no_drift(report):
    assert node_drift(report) == []


def test_an_entry_script_edited_on_the_node_is_named(report):
    report["files"]["code"]["score.py"] = "99" * 32
    found = node_drift(report)
    assert subjects(found) == ["code/score.py"]
    assert "changed on the node" in found[0].message
    assert "999999999999" in found[0].message and "111111111111" in found[0].message


def test_missing_and_added_files_are_named(report):
    del report["files"]["models"]["sklearn_mnist/1"]["model.pkl"]
    report["files"]["code"]["backdoor.py"] = "44" * 32
    found = {item.subject: item.message for item in node_drift(report)}
    assert found == {
        "code/backdoor.py": "added on the node (not in the release)",
        "models/sklearn_mnist/1/model.pkl": "missing on the node",
    }


def test_a_missing_code_folder_is_one_difference(report):
    report["files"]["code"] = None
    assert [str(item) for item in node_drift(report)] == ["code: folder missing on the node"]


def test_container_settings_changed_by_hand_are_named(report):
    instance = report["instance"]
    instance["image_id"] = "sha256:" + "cd" * 32
    instance["env"]["FLEETDEPLOY_WORKERS"] = "4"
    instance["nano_cpus"] = 2_000_000_000
    instance["mounts"][0]["source"] = "/tmp/elsewhere"
    found = subjects(node_drift(report))
    assert found == ["image", "env FLEETDEPLOY_WORKERS", "cpus", "mount /var/azureml-app/code"]


def test_numbers_compare_by_value_not_by_text(report):
    report["instance"]["env"]["FLEETDEPLOY_TIMEOUT"] = "60.0"
    assert node_drift(report) == []


def test_a_container_of_another_release_is_named(report):
    report["instance"]["labels"]["fleetdeploy.release"] = "0123456789ab"
    report["instance"]["env"]["FLEETDEPLOY_RELEASE"] = "0123456789ab"
    found = subjects(node_drift(report))
    assert found == ["container fleetdeploy-mnist-blue", "env FLEETDEPLOY_RELEASE"]


def test_a_missing_release_record_is_drift(report):
    report["manifest"] = None
    assert subjects(node_drift(report)) == ["releases/79c4f1af2f8d.json"]


def test_units_are_checked_by_their_files_only(report):
    report["instance"] = {"name": "fleetdeploy-mnist@blue.service", "kind": "unit", "exists": True}
    assert node_drift(report) == []


def test_not_deployed_has_no_drift():
    assert node_drift({"deployed": False}) == []


def desired_like(manifest):
    return Desired(
        code_files=dict(manifest["code_files"]),
        models={"sklearn_mnist/1": dict(manifest["models"][0]["files"])},
        settings=copy.deepcopy(manifest["settings"]),
    )


def test_the_spec_that_was_deployed_has_no_drift(manifest):
    assert spec_drift(manifest, desired_like(manifest)) == []


def test_a_spec_with_a_newer_score_py_and_more_workers_is_named(manifest):
    desired = desired_like(manifest)
    desired.code_files["score.py"] = "55" * 32
    desired.settings["workers"] = 2
    desired.models["other/2"] = {"m.bin": "66" * 32}
    found = {item.subject: item.message for item in spec_drift(manifest, desired)}
    assert set(found) == {"spec code/score.py", "spec models/other/2", "spec setting workers"}
    assert found["spec setting workers"] == "deployed 1, spec wants 2"
