"""How node containers are run: the capability recipe instead of --privileged, loopback-only ports,
and the cgroup v1 / v2 branch."""

from fleetdeploy.sandbox.container import run_options
from fleetdeploy.sandbox.plan import plan_nodes


def _node():
    return plan_nodes("t", 1, ["trixie"], ["preinstalled"], extra_ports=[8080], ssh_ports=[2222])[0]


def test_ports_are_published_on_loopback_only():
    options = run_options(_node(), cgroup_version=1, state_folder="/s/t")
    assert options["ports"] == {
        "22/tcp": ("127.0.0.1", 2222),
        "6789/tcp": ("127.0.0.1", None),
        "8080/tcp": ("127.0.0.1", None),
    }


def test_systemd_gets_capabilities_without_privileged_mode():
    options = run_options(_node(), cgroup_version=1, state_folder="/s/t")
    assert "privileged" not in options
    assert options["cap_add"] == ["ALL"] and options["cap_drop"] == ["SYS_RESOURCE"]
    assert set(options["security_opt"]) == {"seccomp=unconfined", "apparmor=unconfined"}
    assert set(options["tmpfs"]) == {"/run", "/run/lock"}
    assert options["volumes"]["/sys/fs/cgroup"] == {"bind": "/sys/fs/cgroup", "mode": "rw"}
    assert options["volumes"]["fleetdeploy-t-node1-docker"] == {"bind": "/var/lib/docker", "mode": "rw"}
    assert options["stop_signal"] == "SIGRTMIN+3"
    assert options["image"] == "fleetdeploy/node:trixie-docker"
    assert options["network"] == "fleetdeploy-t"
    assert (
        options["labels"]["fleetdeploy.sandbox"] == "t" and options["labels"]["fleetdeploy.state"] == "/s/t"
    )


def test_cgroup_v1_keeps_the_host_namespace_default():
    options = run_options(_node(), cgroup_version=1, state_folder="/s/t")
    assert "cgroupns" not in options
    assert "command" not in options  # the image's CMD: systemd


def test_cgroup_v2_shares_the_host_cgroup_namespace():
    options = run_options(_node(), cgroup_version=2, state_folder="/s/t")
    assert options["cgroupns"] == "host"
    assert "command" not in options
    assert options["volumes"]["/sys/fs/cgroup"]["mode"] == "rw"
