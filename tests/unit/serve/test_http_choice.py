"""--http picks the server class; asking for granian where it is not installed is a clear error."""

import sys

import pytest

from fleetdeploy.errors import EnvironmentProblem
from fleetdeploy.serve.uvicorn_server import UvicornServer
from fleetdeploy.serve.worker import http_server


def test_uvicorn_is_the_default_class():
    assert http_server("uvicorn") is UvicornServer


def test_granian_missing_names_the_setting_and_the_fix(monkeypatch):
    monkeypatch.delitem(sys.modules, "fleetdeploy.serve.granian_server", raising=False)
    monkeypatch.setitem(sys.modules, "granian", None)  # what an image without granian looks like to import
    monkeypatch.setitem(sys.modules, "granian._granian", None)
    monkeypatch.setitem(sys.modules, "granian._futures", None)
    with pytest.raises(EnvironmentProblem, match=r"--http granian \(or FLEETDEPLOY_HTTP=granian\) needs granian"):
        http_server("granian")


def test_granian_of_another_series_is_refused_naming_the_version(monkeypatch):
    granian_server = pytest.importorskip("fleetdeploy.serve.granian_server")
    monkeypatch.setattr(granian_server, "granian_version", "3.0.0")
    with pytest.raises(EnvironmentProblem, match=r"needs granian 2\.8\.x .* found 3\.0\.0"):
        http_server("granian")


def test_installed_granian_is_accepted():
    granian_server = pytest.importorskip("fleetdeploy.serve.granian_server")
    assert http_server("granian") is granian_server.GranianServer
