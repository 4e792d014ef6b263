"""`logs`: the scoring service's log lines from the nodes, each prefixed with its node.

Streams over plain `ssh` (not Ansible, which cannot stream): one ssh per node, in parallel, built
from the inventory's own connection variables (ansible_host/port/user, the private key, the ssh
common/extra args) and sudo for the runtime's log: `sudo -n`, or `sudo -S` fed the become password when
one is given (`-K`, ANSIBLE_BECOME_PASSWORD_FILE, or the host's `ansible_become_password`, vaulted or not). On the node a small standard-library script
(after roles/fleet_layout's reader of the node layout) reads state/active.json and runs `docker logs` (docker runtime) or `journalctl -u` (venv/conda units).
It ends its reader when the ssh connection closes, so Ctrl-C on `-f` leaves nothing behind.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fleetdeploy.become import PASSWORD_FILE as BECOME_PASSWORD_FILE
from fleetdeploy.errors import ConfigError
from fleetdeploy.inventory import Host, Inventory
from fleetdeploy.ops.target import node_root

NOT_DEPLOYED_EXIT = 3  # the node script's exit status when the service is not there
BECOME_PASSWORD_VARS = ("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")
# What sudo -S says before it reads a second password from stdin, where none will come.
SUDO_REJECTED = "Sorry, try again"

# Runs on the node with its own python3 (Ansible needs one there anyway), after the node layout's reader
# (roles/fleet_layout's module_utils, the one the roles' modules use). argv: service, root, lines ("" for
# all), since ("" for no limit), follow ("1"/"0").
_READ_LOGS = r"""
import re, subprocess, sys, threading
service, root, lines, since, follow = sys.argv[1:6]
active, error = read_active(os.path.join(root, service), service)
if active is None:
    sys.stderr.write("service %s is not deployed on this node%s\n" % (service, " (%s)" % error if error else ""))
    sys.exit(3)
runtime = active.get("runtime") or "docker"
if runtime == "docker":
    argv = ["docker", "logs"] + (["--tail", lines] if lines else []) + (["--since", since] if since else [])
    argv += (["--follow"] if follow == "1" else []) + [instance_name(active)]
else:
    span = re.match(r"^(\d+)([smhd])$", since)
    if span:  # docker's 10m -> journalctl's "10min ago"
        since = span.group(1) + {"s": "s", "m": "min", "h": "h", "d": "d"}[span.group(2)] + " ago"
    argv = ["journalctl", "--no-pager", "--output", "cat", "--unit", instance_name(active)]
    argv += (["--lines", lines] if lines else []) + (["--since", since] if since else [])
    argv += ["--follow"] if follow == "1" else []
proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT)
def stop_when_ssh_closes():
    sys.stdin.read()
    proc.terminate()
if follow == "1":
    threading.Thread(target=stop_when_ssh_closes, daemon=True).start()
sys.exit(proc.wait())
"""


@functools.cache
def node_script() -> str:
    from fleetdeploy.render import ansible_sources

    layout = ansible_sources().roles / "fleet_layout" / "module_utils" / "fleet_layout.py"
    return layout.read_text() + _READ_LOGS



@dataclass(frozen=True)
class LogRequest:
    service: str
    lines: int | None = 100  # None: all
    since: str | None = None  # docker's syntax: 10m, 2h, 2026-11-24T10:00:00
    follow: bool = False
    grep: str | None = None  # keep only lines containing this text
    root: str | None = None  # fleetdeploy's folder on the nodes; None: each host's (ops.target.node_root)


@dataclass
class NodeLog:
    node: str
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rc: int | None = None

    @property
    def ok(self) -> bool:
        return self.rc == 0


def pick_hosts(inventory: Inventory, node: str | None) -> list[Host]:
    """All selected hosts, or the one `--node` names (an unknown name lists the known ones)."""
    if node is None:
        return list(inventory.hosts)
    try:
        return [inventory.get(node)]
    except KeyError:
        raise ConfigError(
            f"--node {node}: no such host; the inventory has: {', '.join(inventory.names)}"
        ) from None


def ssh_argv(host: Host) -> list[str]:
    """ssh with the host's inventory connection settings; [] for ansible_connection=local."""
    connection = host.vars.get("ansible_connection") or "ssh"
    if connection == "local":
        return []
    if connection not in ("ssh", "smart", "paramiko", "ansible.builtin.ssh"):
        raise ConfigError(f"host {host.name}: `logs` reaches nodes over ssh; ansible_connection={connection}")
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"]
    if host.port:
        argv += ["-p", str(host.port)]
    key = host.vars.get("ansible_ssh_private_key_file") or host.vars.get("ansible_private_key_file")
    if key:
        argv += ["-i", str(key)]
    for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        argv += shlex.split(str(host.vars.get(name) or ""))
    target = f"{host.user}@{host.address}" if host.user else host.address
    return [*argv, target]


def become_password(host: Host) -> str | None:
    """The password sudo wants on `host`, as ansible-playbook would take it: the file the command was
    given (-K, --become-password-file, ANSIBLE_BECOME_PASSWORD_FILE), else the host's variables."""
    given = os.environ.get(BECOME_PASSWORD_FILE)
    if given:
        try:
            return Path(given).read_text().rstrip("\n")
        except OSError as exc:
            raise ConfigError(f"{BECOME_PASSWORD_FILE}: cannot read {given}: {exc.strerror}") from None
    for name in BECOME_PASSWORD_VARS:
        if host.vars.get(name) not in (None, ""):
            return str(host.vars[name])
    return None


def node_command(host: Host, request: LogRequest, *, password: bool = False) -> str:
    """The shell command run on the node (through ssh) to print the service's log. `password`: sudo
    reads it from the first line of stdin (then the node script gets the rest, as without one)."""
    python = str(host.vars.get("ansible_python_interpreter") or "python3")
    if python.startswith("auto"):
        python = "python3"
    sudo = [] if host.user == "root" else (["sudo", "-S", "-p", ""] if password else ["sudo", "-n"])
    args = [
        request.service,
        request.root or node_root(host),
        "" if request.lines is None else str(request.lines),
        request.since or "",
        "1" if request.follow else "0",
    ]
    return shlex.join([*sudo, python, "-c", node_script(), *args])


def matches(line: str, grep: str | None) -> bool:
    return grep is None or grep in line


def read_logs(
    hosts: Sequence[Host],
    request: LogRequest,
    *,
    on_line: Callable[[str, str], None] | None = None,
    on_end: Callable[[NodeLog], None] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, NodeLog]:
    """Read every host's log in parallel. With `on_line(node, line)` lines are handed over as they come
    (for -f) and `on_end(log)` hears of each stream that ends (e.g. a node that cannot be reached);
    otherwise lines are collected per node. Setting `stop` ends every stream."""
    stop = stop or threading.Event()
    logs = {host.name: NodeLog(host.name) for host in hosts}
    threads = [
        threading.Thread(
            target=_read_one, args=(host, request, logs[host.name], on_line, on_end, stop), daemon=True
        )
        for host in hosts
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():  # join with a timeout, so Ctrl-C reaches the main thread
                thread.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        for thread in threads:
            thread.join(5)
        raise
    return logs


def _read_one(host: Host, request: LogRequest, log: NodeLog, on_line, on_end, stop: threading.Event) -> None:
    _stream(host, request, log, on_line, stop)
    if on_end:
        on_end(log)


def _stream(host: Host, request: LogRequest, log: NodeLog, on_line, stop: threading.Event) -> None:
    password = become_password(host) if host.user != "root" else None
    command = node_command(host, request, password=password is not None)
    argv = [*ssh_argv(host), command] if ssh_argv(host) else ["sh", "-c", f"exec {command}"]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        log.errors.append(f"cannot start {argv[0]}: {exc}")
        log.rc = 127
        return
    if password is not None:
        # On stdin, never in argv (which `ps` on either side shows); sudo reads the first line.
        try:
            proc.stdin.write(password + "\n")
            proc.stdin.flush()
        except OSError:
            pass  # ssh already ended: its exit status and stderr tell why
    errors = threading.Thread(target=_read_errors, args=(proc, log), daemon=True)
    errors.start()
    watcher = threading.Thread(target=_stop_on, args=(stop, proc), daemon=True)
    watcher.start()
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        if not matches(line, request.grep):
            continue
        if on_line:
            on_line(host.name, line)
        else:
            log.lines.append(line)
    log.rc = proc.wait()
    errors.join(5)
    if log.rc == NOT_DEPLOYED_EXIT and not log.errors:
        log.errors.append(f"service {request.service} is not deployed on this node")
    elif log.rc == 255 and not log.errors:
        log.errors.append("ssh failed (exit 255)")
    if stop.is_set():
        log.rc = 0  # ended on request (Ctrl-C): not a failure


def _stop_on(stop: threading.Event, proc: subprocess.Popen) -> None:
    while proc.poll() is None:
        if stop.wait(0.2):
            # Closing stdin ends the ssh session; the node script then stops its reader.
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.terminate()
            return


def _read_errors(proc: subprocess.Popen, log: NodeLog) -> None:
    for line in proc.stderr:
        if SUDO_REJECTED in line:
            # sudo now waits for another password on stdin, which stays open for -f: end it here.
            log.errors.append("sudo refused the become password (check ansible_become_password or -K)")
            proc.terminate()
        elif line.strip():
            log.errors.append(line.rstrip("\n"))
