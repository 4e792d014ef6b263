"""`logs`: the ssh command built from inventory variables, the unknown --node error, and the node
script run for real against fake `docker` and `journalctl` programs."""

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.inventory import Host, load_inventory
from fleetdeploy.ops.logs import LogRequest, node_command, node_script, pick_hosts, read_logs, ssh_argv

FLEET = Path(__file__).resolve().parents[2] / "fixtures" / "inventories" / "fleet.yml"


def test_ssh_uses_the_inventory_connection_settings():
    host = Host(
        "n1",
        {
            "ansible_host": "10.0.0.5",
            "ansible_port": 2222,
            "ansible_user": "fleet",
            "ansible_ssh_private_key_file": "/keys/id",
            "ansible_ssh_common_args": "-o UserKnownHostsFile=/k h",
        },
    )
    argv = ssh_argv(host)
    assert argv[0] == "ssh" and "BatchMode=yes" in argv
    assert argv[-4:-1] == ["-o", "UserKnownHostsFile=/k", "h"]  # common args split like a shell
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-i") + 1] == "/keys/id"
    assert argv[-1] == "fleet@10.0.0.5"


def test_local_hosts_need_no_ssh_and_other_connections_are_refused():
    assert ssh_argv(Host("me", {"ansible_connection": "local"})) == []
    with pytest.raises(
        ConfigError, match="host win: `logs` reaches nodes over ssh; ansible_connection=winrm"
    ):
        ssh_argv(Host("win", {"ansible_connection": "winrm"}))


def test_the_node_command_uses_sudo_and_the_inventory_python():
    request = LogRequest("mnist", lines=20, since="10m", follow=True)
    command = node_command(
        Host("n1", {"ansible_user": "fleet", "ansible_python_interpreter": "/usr/bin/python3"}), request
    )
    assert command.startswith("sudo -n /usr/bin/python3 -c ")
    assert command.endswith(" mnist /opt/fleetdeploy 20 10m 1")
    assert not node_command(Host("n1", {"ansible_user": "root"}), request).startswith("sudo")
    elsewhere = Host("n2", {"ansible_user": "root", "fleetdeploy_root": "/srv/fd"})  # as the roles read it
    assert node_command(elsewhere, request).endswith(" mnist /srv/fd 20 10m 1")


def test_an_unknown_node_lists_the_known_ones():
    inventory = load_inventory(FLEET)
    with pytest.raises(ConfigError) as error:
        pick_hosts(inventory, "node9")
    assert str(error.value) == (
        "--node node9: no such host; the inventory has: node-bookworm-1, node-bookworm-2, node-trixie-1"
    )
    assert error.value.exit_code == 2
    assert [host.name for host in pick_hosts(inventory, "node-trixie-1")] == ["node-trixie-1"]


def fake_program(folder: Path, name: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\necho \"$0 $*\" | sed 's|.*/||'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run_script(root: Path, bin_dir: Path, *args):
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    # stdin stays open, as ssh's does: with --follow the script stops its reader when stdin closes.
    proc = subprocess.Popen(
        [sys.executable, "-c", node_script(), "mnist", str(root), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    stdout = proc.stdout.read()
    proc.stdin.close()
    proc.wait(30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, proc.stderr.read())


def test_with_follow_the_node_script_stops_its_reader_when_ssh_closes(tmp_path):
    activate(tmp_path, runtime="docker", instance="c")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho following\nexec sleep 60\n")
    (bin_dir / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", node_script(), "mnist", str(tmp_path), "5", "", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline() == "following\n"
    proc.stdin.close()  # what ssh does when the controller goes away
    assert proc.wait(10) != 0  # the reader was terminated, well before its 60 s


@pytest.fixture
def fakes(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_program(bin_dir, "docker")
    fake_program(bin_dir, "journalctl")
    return bin_dir


def activate(root: Path, **active):
    state = root / "mnist" / "state"
    state.mkdir(parents=True)
    (state / "active.json").write_text(json.dumps(active))


def test_the_node_script_reads_the_active_container(tmp_path, fakes):
    activate(tmp_path, runtime="docker", instance="fleetdeploy-mnist-green", slot="green")
    done = run_script(tmp_path, fakes, "50", "10m", "0")
    assert done.stdout.strip() == "docker logs --tail 50 --since 10m fleetdeploy-mnist-green"


def test_the_node_script_reads_the_journal_for_units(tmp_path, fakes):
    activate(tmp_path, runtime="conda", slot="blue")
    done = run_script(tmp_path, fakes, "", "10m", "1")
    assert done.stdout.strip() == (
        "journalctl --no-pager --output cat --unit fleetdeploy-mnist@blue.service --since 10min ago --follow"
    )


def test_the_node_script_falls_back_to_the_layout_before_slots(tmp_path, fakes):
    (tmp_path / "mnist").mkdir()
    os.symlink("releases/r1.json", tmp_path / "mnist" / "current")
    assert (
        run_script(tmp_path, fakes, "5", "", "0").stdout.strip() == "docker logs --tail 5 fleetdeploy-mnist"
    )


def test_the_node_script_says_when_the_service_is_not_there(tmp_path, fakes):
    done = run_script(tmp_path, fakes, "5", "", "0")
    assert done.returncode == 3 and "service mnist is not deployed on this node" in done.stderr


def test_read_logs_collects_filters_and_names_the_nodes_that_failed(tmp_path, fakes, monkeypatch):
    """Through the real read_logs: a local host (sh -c) with a fake docker, and a host whose ssh port
    is closed."""
    activate(tmp_path, runtime="docker", instance="c1")
    (fakes / "docker").write_text("#!/bin/sh\nprintf 'one abc123\\ntwo\\nthree abc123\\n'\n")
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    local = Host(
        "here",
        {"ansible_connection": "local", "ansible_user": "root", "ansible_python_interpreter": sys.executable},
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gone = Host(
        "gone",
        {
            "ansible_host": "127.0.0.1",
            "ansible_port": closed_port,
            "ansible_user": "fleet",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        },
    )
    ended = []
    logs = read_logs(
        [local, gone],
        LogRequest("mnist", lines=None, grep="abc123", root=str(tmp_path)),
        on_end=lambda log: ended.append(log.node),
    )
    assert logs["here"].lines == ["one abc123", "three abc123"] and logs["here"].ok
    assert logs["gone"].rc == 255 and not logs["gone"].ok
    assert any("refused" in error.lower() for error in logs["gone"].errors), logs["gone"].errors
    assert sorted(ended) == ["gone", "here"]


FAKE_SUDO = """#!/bin/sh
# sudo -S -p '': the password is the first line of stdin; a wrong one is asked again, as sudo does.
[ "$1" = -S ] || { echo "fake sudo: expected -S, got $*" >&2; exit 2; }
shift 3
IFS= read -r password
while [ "$password" != "right-password" ]; do
  echo "Sorry, try again." >&2
  IFS= read -r password || exit 1
done
exec "$@"
"""


@pytest.fixture
def sudo_fakes(fakes):
    (fakes / "sudo").write_text(FAKE_SUDO)
    (fakes / "sudo").chmod(0o755)
    return fakes


def sudo_host(password_var: str | None, tmp_path: Path) -> Host:
    values = {"ansible_connection": "local", "ansible_user": "fleet", "ansible_python_interpreter": sys.executable}
    if password_var:
        values["ansible_become_password"] = password_var
    return Host("n1", values)


@pytest.mark.parametrize("source", ["inventory", "file"])
def test_a_become_password_reaches_sudo_on_stdin_never_in_the_command(tmp_path, sudo_fakes, monkeypatch, source):
    monkeypatch.setenv("PATH", f"{sudo_fakes}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("ANSIBLE_BECOME_PASSWORD_FILE", raising=False)
    activate(tmp_path, runtime="docker", instance="c")
    if source == "file":
        (tmp_path / "become").write_text("right-password\n")
        monkeypatch.setenv("ANSIBLE_BECOME_PASSWORD_FILE", str(tmp_path / "become"))
    host = sudo_host("right-password" if source == "inventory" else None, tmp_path)
    request = LogRequest("mnist", lines=5, root=str(tmp_path))
    assert "right-password" not in node_command(host, request, password=True)
    logs = read_logs([host], request)
    assert logs["n1"].ok, logs["n1"].errors
    assert logs["n1"].lines == ["docker logs --tail 5 c"]


def test_a_wrong_become_password_is_said_and_does_not_hang_a_follow(tmp_path, sudo_fakes, monkeypatch):
    monkeypatch.setenv("PATH", f"{sudo_fakes}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("ANSIBLE_BECOME_PASSWORD_FILE", raising=False)
    activate(tmp_path, runtime="docker", instance="c")
    logs = read_logs([sudo_host("wrong", tmp_path)], LogRequest("mnist", root=str(tmp_path), follow=True))
    assert not logs["n1"].ok
    assert logs["n1"].errors == ["sudo refused the become password (check ansible_become_password or -K)"]


def test_the_become_flags_set_ansibles_password_file(tmp_path, monkeypatch):
    from fleetdeploy.become import PASSWORD_FILE, use_become_password

    monkeypatch.delenv(PASSWORD_FILE, raising=False)
    with pytest.raises(ConfigError, match="become password file .*nope: no such file"):
        use_become_password(tmp_path / "nope")
    use_become_password(ask=True, prompt=lambda _: "typed")
    typed = Path(os.environ[PASSWORD_FILE])
    assert typed.read_text() == "typed\n" and stat.S_IMODE(typed.stat().st_mode) == 0o600
    assert stat.S_IMODE(typed.parent.stat().st_mode) == 0o700
