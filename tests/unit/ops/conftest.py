"""Shared data for the ops unit tests: a release manifest and the container that runs it, as the
node-side module reports them (shapes copied from a sandbox node)."""

from pathlib import Path

import pytest

from tests.unit.role_modules import role_module

ROOT = Path(__file__).resolve().parents[3]
RELEASE = "79c4f1af2f8d"
CODE_HASH = "c0de" * 16


def load_node_module():
    """roles/fleet_inspect/library/fleet_inspect.py, imported as plain Python (no Ansible needed)."""
    return role_module("fleet_inspect", "fleet_inspect")


@pytest.fixture
def manifest():
    return {
        "release": RELEASE,
        "service": "mnist",
        "image": "fleetdeploy-mnist:1ea5ce929779640c",
        "image_id": "sha256:" + "ab" * 32,
        "code_hash": CODE_HASH,
        "entry_script": "score.py",
        "code_files": {"score.py": "11" * 32, "util/helpers.py": "22" * 32},
        "models": [{"name": "sklearn_mnist", "version": "1", "files": {"model.pkl": "33" * 32}}],
        "settings": {
            "cpus": 1.0,
            "memory": 1073741824,
            "workers": 1,
            "timeout": 60.0,
            "max_body": 104857600,
            "log_level": "info",
            "entry_script": "score.py",
            "port": 6789,
        },
    }


@pytest.fixture
def container():
    base = "/opt/fleetdeploy/mnist"
    return {
        "name": "fleetdeploy-mnist-blue",
        "kind": "container",
        "exists": True,
        "state": "running",
        "running": True,
        "restarting": False,
        "exit_code": 0,
        "health": "healthy",
        "restarts": 0,
        "image_id": "sha256:" + "ab" * 32,
        "labels": {"fleetdeploy.release": RELEASE, "fleetdeploy.service": "mnist"},
        "env": {
            "FLEETDEPLOY_RELEASE": RELEASE,
            "FLEETDEPLOY_SERVICE": "mnist",
            "FLEETDEPLOY_WORKERS": "1",
            "FLEETDEPLOY_TIMEOUT": "60",
            "FLEETDEPLOY_MAX_BODY": "104857600",
            "FLEETDEPLOY_LOG_LEVEL": "info",
            "AZUREML_ENTRY_SCRIPT": "score.py",
        },
        "mounts": [
            {"source": f"{base}/code/{CODE_HASH}", "destination": "/var/azureml-app/code", "rw": False},
            {
                "source": f"{base}/models/sklearn_mnist/1",
                "destination": "/var/azureml-app/azureml-models/sklearn_mnist/1",
                "rw": False,
            },
        ],
        "nano_cpus": 1_000_000_000,
        "memory": 1073741824,
    }


@pytest.fixture
def report(manifest, container):
    """fleet_inspect's report for a healthy slot-layout node, files hashed."""
    return {
        "service": "mnist",
        "deployed": True,
        "errors": [],
        "active": {
            "service": "mnist",
            "release": RELEASE,
            "slot": "blue",
            "runtime": "docker",
            "instance": "fleetdeploy-mnist-blue",
            "layout": "slots",
        },
        "instance": container,
        "front": {"name": "fleetdeploy-front@mnist.service", "kind": "unit", "exists": True, "running": True},
        "manifest": manifest,
        "files": {
            "code": dict(manifest["code_files"]),
            "models": {"sklearn_mnist/1": {"model.pkl": "33" * 32}},
        },
    }
