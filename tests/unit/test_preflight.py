"""Preflight's verdicts (fleetdeploy/preflight.py) on facts shaped as roles/fleet_preflight reports them,
and the node-side module's own readers on files written here. On sandbox nodes: tests/e2e/test_ops.py."""

import pytest

from fleetdeploy.preflight import FAIL, OK, WARN, Needs, judge
from tests.unit.role_modules import role_module

MiB = 1024 * 1024
NEEDS = Needs(service="mnist", port=6789, runtime="docker", memory=None, gpus=False, data_bytes=200 * MiB, kept_releases=3)
WINDOW = (1000.0, 1003.0)


def facts(**changes):
    base = {
        "os": {"id": "debian", "id_like": "", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
        "python": "3.11.2",
        "disk": {"path": "/opt", "free": 10_000 * MiB, "docker_path": "/var/lib/docker", "docker_free": 10_000 * MiB},
        "memory": {"total": 4096 * MiB, "available": 2048 * MiB},
        "port": {"number": 6789, "listening": False, "holders": []},
        "docker": {"installed": True, "running": True, "version": "20.10.24"},
        "cpu": {"machine": "x86_64", "missing_x86_64_v2": [], "count": 2},
        "nvidia": {"driver": False, "gpus": [], "toolkit": False},
        "selinux": {"mode": "disabled", "haproxy_connect_any": None},
        "time": 1001.0,
    }
    base.update(changes)
    return base


def verdicts(found, needs=NEEDS):
    return {check.name: check for check in judge(found, needs, WINDOW)}


def test_a_healthy_debian_node_passes_every_check():
    checks = verdicts(facts())
    assert {name: check.status for name, check in checks.items()} == {
        name: OK for name in ("python", "os", "disk", "memory", "port", "docker", "cpu", "selinux", "clock")
    }
    assert "gpu" not in checks  # asked only when the spec wants GPUs


@pytest.mark.parametrize(
    ("changes", "name", "status", "words"),
    [
        ({"python": "3.6.8"}, "python", FAIL, "python3 3.6.8"),
        ({"os": {"id": "rocky", "id_like": "rhel centos fedora", "version_id": "9.3"}}, "os", WARN, "not tested"),
        ({"os": {"id": "alpine", "id_like": "", "version_id": "3.19"}}, "os", FAIL, "not a system"),
        ({"disk": {"path": "/opt/fleetdeploy", "free": 20 * MiB, "docker_path": "/", "docker_free": 0}}, "disk", FAIL,
         "20.0 MiB free under /opt/fleetdeploy; the service needs 200.0 MiB"),
        ({"port": {"number": 6789, "listening": True, "holders": []}}, "port", FAIL, "held by another program"),
        ({"port": {"number": 6789, "listening": True, "holders": ["fraud"]}}, "port", FAIL, "fleetdeploy service fraud"),
        ({"port": {"number": 6789, "listening": True, "holders": ["mnist"]}}, "port", OK, "ours"),
        ({"docker": {"installed": False, "running": False, "version": None}}, "docker", OK, "apply installs it"),
        ({"cpu": {"machine": "x86_64", "missing_x86_64_v2": ["popcnt"], "count": 2}}, "cpu", WARN, "popcnt"),
        ({"selinux": {"mode": "enforcing", "haproxy_connect_any": False}}, "selinux", FAIL, "enforcing"),
        ({"time": 1200.0}, "clock", FAIL, "197 s off"),
        ({"time": 1030.0}, "clock", OK, "within"),
    ],
)
def test_each_check_says_what_it_found(changes, name, status, words):
    check = verdicts(facts(**changes))[name]
    assert check.status == status and words in check.detail, check
    assert status == OK or check.fix  # every problem comes with its fix


def test_memory_and_gpus_are_judged_against_the_spec():
    big = Needs(**{**NEEDS.__dict__, "memory": 8192 * MiB, "gpus": True})
    checks = verdicts(facts(), big)
    assert checks["memory"].status == FAIL and "8.0 GiB" in checks["memory"].detail
    assert checks["gpu"].status == FAIL and "nvidia-smi" in checks["gpu"].detail


node = role_module("fleet_preflight", "fleet_preflight")


def test_the_module_finds_a_listener_and_the_service_holding_the_port(tmp_path):
    table = tmp_path / "tcp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000:1A85 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        "   1: 0100007F:0016 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2\n"
    )
    assert node.listening(0x1A85, tables=(str(table),)) is True  # 6789, LISTEN
    assert node.listening(22, tables=(str(table),)) is False  # established, not listening
    (tmp_path / "root" / "fraud" / "state").mkdir(parents=True)
    (tmp_path / "root" / "fraud" / "state" / "active.json").write_text('{"port": 6789}')
    assert node.port_holders(str(tmp_path / "root"), 6789, "mnist") == ["fraud"]
    (tmp_path / "root" / "mnist").mkdir()  # a first deploy cut short: the folder, no record yet
    assert node.port_holders(str(tmp_path / "root"), 6789, "mnist") == ["fraud", "mnist"]
    (tmp_path / "root" / "mnist" / "state").mkdir()
    (tmp_path / "root" / "mnist" / "state" / "active.json").write_text('{"port": 7000}')
    assert node.port_holders(str(tmp_path / "root"), 6789, "mnist") == ["fraud"]  # it serves elsewhere


def test_free_space_is_measured_on_the_nearest_existing_folder(tmp_path):
    path, free = node.free_space(str(tmp_path / "not" / "yet"))
    assert path == str(tmp_path) and free > 0
