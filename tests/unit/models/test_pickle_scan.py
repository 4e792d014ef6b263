"""The scanner reads what a pickle would import and which scikit-learn saved it, without running it."""

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fleetdeploy.pickle_scan import is_unsafe, runs_code, scan_file, scan_paths
from tests.unit.models.conftest import RunsCode

NEVER = Path("/tmp/fleetdeploy-pickle-scan-must-never-run-this")


@pytest.fixture(autouse=True)
def nothing_ran():
    NEVER.unlink(missing_ok=True)
    yield
    assert not NEVER.exists(), "a scanned pickle ran its code"


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_a_joblib_model_is_read_past_its_raw_arrays_in_every_compression(make_file, ridge, object_array, compress):
    path = make_file("m.pkl", {"model": ridge, "objects": object_array, "text": np.array(["ab", "c"]),
                               "fortran": np.asfortranarray(np.ones((3, 2))), "scalar": np.float32(1)},
                     compress=compress)
    report = scan_file(path)
    assert report.error is None and report.unsafe == [], report
    assert report.sklearn_versions == [__import__("sklearn").__version__]
    assert "sklearn.linear_model._ridge.Ridge" in report.imports


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_plain_pickle_is_read_in_every_protocol(make_file, ridge, protocol):
    report = scan_file(make_file("m.pkl", ridge, how="pickle", protocol=protocol))
    assert report.format is not None and report.error is None and report.unsafe == []
    assert report.sklearn_versions and "sklearn.linear_model._ridge.Ridge" in report.imports


@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize("protocol", [0, 4])
def test_a_pickle_that_calls_os_system_is_reported_and_never_run(make_file, ridge, how, protocol):
    path = make_file("evil.pkl", [ridge, np.arange(3), RunsCode()], how=how, protocol=protocol)
    report = scan_file(path)
    assert report.unsafe == ["posix.system"] and runs_code("posix.system")


def test_a_pickle_cut_short_still_reports_what_it_named_before_the_cut(make_file):
    data = pickle.dumps([RunsCode(), "x" * 1000], protocol=4)
    path = make_file("cut.pkl", None, how="pickle")
    path.write_bytes(data[: len(data) // 2])
    report = scan_file(path)
    assert report.unsafe == ["posix.system"] and report.error


def test_pickles_inside_a_zip_are_read_as_torch_saves_them(tmp_path):
    path = tmp_path / "model.pt"
    payload = io.BytesIO()
    pickle.Pickler(payload, protocol=2).dump({"weights": "persistent id below", "bad": RunsCode()})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload.getvalue())
        archive.writestr("archive/data/0", b"\x00" * 16)
    report = scan_file(path)
    assert report.format == "zip" and report.unsafe == ["posix.system"]


@pytest.mark.parametrize("content", [b"cat and dog\n", b'{"a": 1}', b"\x00\x01binary", b"", b"(((("])
def test_files_that_are_not_pickles_are_skipped(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    assert scan_file(path).format is None
    assert scan_paths([tmp_path]) == []


def test_a_folder_is_scanned_file_by_file(tmp_path, make_file, ridge):
    (tmp_path / "sub").mkdir()
    make_file("sub/a.pkl", ridge)
    (tmp_path / "vocab.txt").write_text("hello\n")
    assert [Path(report.path).name for report in scan_paths([tmp_path])] == ["a.pkl"]


@pytest.mark.parametrize(("name", "unsafe"), [
    ("sklearn.linear_model._ridge.Ridge", False), ("numpy._core.multiarray._reconstruct", False),
    ("numpy.float64", False), ("builtins.set", False), ("scipy.sparse._csr.csr_matrix", False),
    ("numpy.testing._private.utils.runstring", True), ("sklearn.utils._testing.assert_run_python_script", True),
    ("builtins.eval", True), ("posix.system", True), ("collections.namedtuple", True), ("mymodule.Model", True),
])
def test_the_safe_list(name, unsafe):
    assert is_unsafe(name) is unsafe
