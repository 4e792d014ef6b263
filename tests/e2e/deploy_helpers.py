"""What the deploy end-to-end tests share: running the real CLI, reading a run's events, looking
inside nodes, and the seed's client against one node."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections import defaultdict
from pathlib import Path

import yaml

from fleetdeploy.dockerhost import exec_output
from tests.e2e.relay import relay

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist"
EXAMPLE_FILES = (
    "score.py",
    "client.py",
    "requirements.txt",
    "fleetdeploy.yml",
    "sample_request.json",
    "model",
)


def copy_example(dest: Path, **rollout) -> Path:
    """The example project in `dest`; keyword arguments replace its spec's `rollout` section."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        src = EXAMPLE / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    if rollout:
        set_rollout(dest, **rollout)
    return dest


def set_rollout(project: Path, **rollout) -> None:
    """Replace the `rollout` section of the project's fleetdeploy.yml."""
    spec_path = project / "fleetdeploy.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["rollout"] = rollout
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))


def fleetdeploy(
    *args, timeout=1200, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """The CLI in a child process; `env` adds to (or overrides) this process's environment; `cwd` is
    where it runs (where Ansible looks for a site's ansible.cfg)."""
    return subprocess.run(
        [sys.executable, "-m", "fleetdeploy", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env} if env else None,
        cwd=cwd,
    )


def wanted_release(inventory: Path, project: Path, scratch: Path) -> str:
    """The release `apply` would deploy for the project, without touching a node: `render -o` prepares
    it the same way and names it in the rendered vars."""
    done = fleetdeploy("render", inventory, "-f", project / "fleetdeploy.yml", "-o", scratch)
    assert done.returncode == 0, done.stdout + done.stderr
    rendered = json.loads((scratch / "project" / "vars" / "fleetdeploy.json").read_text())
    return rendered["fleetdeploy_release"]


def version(node, port: int = 6789) -> dict:
    """The GET /version of the node's service on `port`, through the port published for it on 127.0.0.1."""
    with urllib.request.urlopen(f"{node.scoring_urls[port]}/version", timeout=10) as answer:
        return json.load(answer)


def served_release(node) -> str | None:
    """The release the node serves, None when it answers nothing (never deployed, or down)."""
    try:
        return version(node).get("release")
    except OSError:
        return None


def ensure_serving(fleet, project: Path, scratch: Path) -> subprocess.CompletedProcess | None:
    """A baseline for tests that need the project's release on every node, not a deploy to prove:
    `apply` unless every node already serves that release (in a full run the file before on the same
    fleet leaves it there, and a no-op apply costs 1-2 minutes on 2 cores). Returns the apply's result,
    or None when none was needed."""
    release = wanted_release(fleet.inventory, project, scratch)
    if all(served_release(node) == release for node in fleet.nodes):
        return None
    return fleetdeploy("apply", fleet.inventory, "-f", project / "fleetdeploy.yml")


def render_elsewhere(inventory, project: Path, scratch: Path, env: dict[str, str] | None = None) -> Path:
    """`fleetdeploy render -o`, then the folder moved to another directory, as a site commits it or copies
    it to the machine its automation runs on: a run of it proves it carries everything it needs. `env`:
    what the spec's secrets are read from (render needs their values for the release id, and writes none)."""
    written, moved = scratch / "rendered", scratch / "elsewhere" / "deploy"
    result = fleetdeploy("render", inventory, "-f", project / "fleetdeploy.yml", "-o", written, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    moved.parent.mkdir(parents=True)
    written.rename(moved)
    return moved


def run_rendered(folder: Path, *, runner: bool = False, secrets_file: Path | None = None) -> subprocess.CompletedProcess:
    """The rendered project without fleetdeploy: plain ansible-playbook from its project/ folder, or
    ansible-runner on the folder as AWX starts it (it runs the ansible-playbook it finds on PATH).
    `secrets_file`: the release's secrets, passed as its README says (-e fleet_artifacts_secrets_src=FILE)."""
    bin_dir = Path(sys.executable).parent
    extra = ["-e", f"fleet_artifacts_secrets_src={secrets_file}"] if secrets_file else []
    if runner:
        command, cwd = [str(bin_dir / "ansible-runner"), "run", str(folder), "-p", "playbooks/deploy.yml"], None
        command += ["--cmdline", " ".join(extra)] if extra else []
    else:
        command = [str(bin_dir / "ansible-playbook"), "playbooks/deploy.yml", *extra]
        cwd = folder / "project"
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )


def run_dir(result: subprocess.CompletedProcess) -> Path:
    found = re.search(r"run folder (\S+)", result.stdout)
    assert found, f"no run folder in the output:\n{result.stdout}\n{result.stderr}"
    return Path(found.group(1))


# Roles that write on every run by design (the lock taken and given back, the history record): bookkeeping,
# not drift.
BOOKKEEPING_ROLES = ("fleet_lock", "fleet_history")


def changed_tasks(run_folder: Path, playbook: str = "deploy.yml") -> dict[str, list[str]]:
    """Per host, the names of the tasks of `playbook` that reported a change, from ansible-runner's job
    events, bookkeeping left out."""
    changed: dict[str, list[str]] = defaultdict(list)
    for path in sorted(run_folder.glob("artifacts/*/job_events/*.json")):
        event = json.loads(path.read_text())
        data = event.get("event_data", {})
        if not str(data.get("playbook", "")).endswith(playbook) or data.get("role") in BOOKKEEPING_ROLES:
            continue
        if event.get("event") == "runner_on_ok" and data.get("res", {}).get("changed"):
            changed[data["host"]].append(data.get("task", "?"))
    return dict(changed)


# Tasks that run on the controller only: no round trip to the node.
CONTROLLER_ONLY = {
    f"ansible.builtin.{action}"
    for action in (
        "set_fact", "assert", "debug", "fail", "meta", "pause", "validate_argument_spec", "include_role", "include_tasks",
        "group_by",
        "add_host",
    )
} | {"fleet_probe"}  # fleet_verify's check, an action plugin: HTTP from the controller


def node_tasks(run_folder: Path, playbook: str = "deploy.yml") -> dict[str, list[str]]:
    """Per host, the tasks of `playbook` that ran a module on the node itself (not on the controller, nor
    delegated to it), from ansible-runner's job events."""
    ran: dict[str, list[str]] = defaultdict(list)
    for path in sorted(run_folder.glob("artifacts/*/job_events/*.json")):
        event = json.loads(path.read_text())
        data = event.get("event_data", {})
        if event.get("event") not in ("runner_on_ok", "runner_on_failed"):
            continue
        if not str(data.get("playbook", "")).endswith(playbook) or data.get("resolved_action") in CONTROLLER_ONLY:
            continue
        if "_ansible_delegated_vars" not in data.get("res", {}):
            ran[data["host"]].append(data.get("task", "?"))
    return dict(ran)


def changed_in_output(stdout: str) -> dict[str, list[str]]:
    """changed_tasks for Ansible's screen output (plain ansible-playbook, ansible-runner run)."""
    stdout = re.sub(r"\x1b\[[0-9;]*m", "", stdout)  # ansible-runner's pty makes Ansible colour it
    changed: dict[str, list[str]] = defaultdict(list)
    task = ""
    for line in stdout.splitlines():
        header = re.match(r"TASK \[(.*)\] \*+", line)
        if header:
            task = header.group(1)
        found = re.match(r"changed: \[([^\]]+)\]", line)
        if found and not task.startswith(tuple(f"{role} : " for role in BOOKKEEPING_ROLES)):
            changed[found.group(1)].append(task)
    return dict(changed)


def node_exec(client, node, command: str) -> str:
    """Run a shell command inside a sandbox node (as root) and return its output; fail on error."""
    code, text = exec_output(client.containers.get(node.container), ["sh", "-c", command])
    assert code == 0, f"{node.host}: `{command}` exited {code}: {text}"
    return text.strip()


def seed_client(project: Path, node) -> str:
    """The seed's client script, unmodified, against one node (its localhost:6789 relayed there)."""
    with relay(node.scoring_port):
        done = subprocess.run(
            [sys.executable, "client.py"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    return done.stdout


SECRET_PROBE = json.dumps({"data": "which secret?"}).encode()
# Appended to the example's score.py: the sample request still gets [2] (the load checks it), the probe
# gets a digest of the secret it sees (never the value itself) and the plain `env` value.
SECRET_SCRIPT = """

_example_run = run


def run(raw_data):
    import hashlib, json, os
    if json.loads(raw_data).get("data") == "which secret?":
        seen = os.environ.get("FD_CANARY", "")
        return {"sha256": hashlib.sha256(seen.encode()).hexdigest(), "plain": os.environ.get("FD_PLAIN")}
    return _example_run(raw_data)
"""


def secret_seen(node) -> dict:
    request = urllib.request.Request(f"{node.scoring_url}/score", data=SECRET_PROBE, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
