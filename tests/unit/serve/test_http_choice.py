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
