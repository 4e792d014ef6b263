"""A scoring service on this machine's own Docker engine: the SDK's LocalWebservice without a cloud.

The same release a fleet gets (the spec read and checked as `apply` reads it, the same scoring image,
models and code staged the same way), run as a node runs it: a front and two slots (blue, green) behind
it, in one network namespace that a holder container keeps and publishes the port from. A deploy or
update starts the new release in the free slot, waits until it is ready, then switches the front with
the nodes' own module (fleet_front_switch: new requests to the new slot, the old one drained) and only
then stops the old slot, so clients never see the port closed or a request cut. A release that does not become ready is refused and the serving one stays.

Kept under <workspace>/services/<name>/: service.json (port, address, spec), state/active.json (what
serves, as a node records it), front/ (HAProxy's config and admin socket), releases/<n>/ (the staged
models and code the slots mount read-only).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import docker
import docker.errors

from fleetdeploy.deploy.lock import file_lock
from fleetdeploy.deploy.release import PreparedRelease, Say
from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import ConfigError, DeployError
from fleetdeploy.image.builder import build_front_image
from fleetdeploy.local.front import SLOTS, FrontFiles, check_port_free, log_config, start_front, start_holder
from fleetdeploy.local.role_code import front_switch, layout, role_values
from fleetdeploy.model_checks import check_models
from fleetdeploy.runtimes.docker import image_release
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.model import Spec

LABEL = "fleetdeploy.local.service"
APP_ROOT = "/var/azureml-app"  # where the nodes' containers have the code and models (roles/fleet_service)
MODELS_MOUNT = f"{APP_ROOT}/azureml-models"
READY_POLL = 0.5
RELEASES_KEPT = 2  # the serving release's files and the one before


@dataclass(frozen=True)
class Settings:
    """service.json: what the service was deployed with."""

    name: str
    spec: Path
    address: str
    port: int
    created: str

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "kind": "local", "spec": str(self.spec), "address": self.address,
                           "port": self.port, "created": self.created}, indent=2) + "\n"


class LocalService:
    def __init__(self, workspace_path: Path, name: str):
        self.name = name
        self.folder = Path(workspace_path) / "services" / name
        self.settings_file = self.folder / "service.json"
        self.active_file = self.folder / "state" / "active.json"
        self.front = FrontFiles(self.folder / "front")

    # -- what it is --------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.settings_file.is_file() or bool(self._containers())

    def elsewhere(self) -> str | None:
        """The folder of another workspace whose service of this name runs here (container names are the
        engine's, not a workspace's), or None."""
        folders = {c.labels.get("fleetdeploy.local.folder") for c in self._containers()} - {str(self.folder)}
        return next(iter(sorted(f for f in folders if f)), None)

    def settings(self) -> Settings:
        try:
            data = json.loads(self.settings_file.read_text())
        except (OSError, ValueError):
            raise ConfigError(f"no local service named {self.name!r} in {self.folder.parent.parent}") from None
        return Settings(data["name"], Path(data["spec"]), data["address"], int(data["port"]), data["created"])

    def active(self) -> dict:
        return layout().read_record(str(self.active_file)) if self.active_file.is_file() else {}

    @property
    def base_url(self) -> str:
        """Where clients reach it: http://localhost:<port> (the address it listens on when not loopback)."""
        settings = self.settings()
        host = "localhost" if settings.address in ("127.0.0.1", "0.0.0.0") else settings.address
        return f"http://{host}:{settings.port}"

    @property
    def scoring_uri(self) -> str:
        return f"{self.base_url}/score"

    def state(self) -> str:
        """Azure's words: Healthy (the front and the serving slot run), Failed (nothing ever became ready),
        Unhealthy (a container of it is not running)."""
        if not self.settings_file.is_file():
            return "Deleted"
        active = self.active()
        if not active:
            return "Failed"
        running = {c.name for c in self._containers() if c.status == "running"}
        wanted = {self._holder_name(), self._front_name(), self._slot_name(active["slot"])}
        return "Healthy" if wanted <= running else "Unhealthy"

    # -- deploy, update, delete ---------------------------------------------------------------------

    def deploy(self, spec_path: Path, *, address: str, say: Say) -> str:
        """The service's first release (the caller made room: no service of that name exists). Returns
        the release serving."""
        with self._lock():
            spec = load_spec(spec_path)
            check_port_free(address, spec.port, self.name)
            self.folder.mkdir(parents=True, exist_ok=True)
            created = datetime.now(UTC).isoformat(timespec="seconds")
            layout().write_durably(str(self.settings_file), Settings(
                self.name, Path(spec_path).resolve(), address, spec.port, created).to_json().encode())
            return self._roll(say, force=False)

    def roll(self, say: Say, *, force: bool = False) -> str:
        """Bring the spec's release into service in the free slot, switch to it, stop the old one. A
        release already serving is left alone unless `force` (reload: the entry script started afresh)."""
        with self._lock():
            return self._roll(say, force=force)

    def _roll(self, say: Say, *, force: bool) -> str:
        settings = self.settings()
        spec = load_spec(settings.spec)
        if spec.port != settings.port:
            raise ConfigError(f"service {self.name} listens on port {settings.port}; a new port means a new "
                              f"service (delete() it, or deploy with overwrite=True)")
        check_models(spec, say)
        work = self._new_release_folder()
        try:
            prepared = image_release(spec, work, say=say, build_log=_quiet, leave_out=(self.folder.parent.parent,))
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)  # a failed build or staging leaves no release folder
            raise
        active = self.active()
        if active.get("release") == prepared.release and not force and self.state() == "Healthy":
            shutil.rmtree(work)
            say(f"release {prepared.release} already serves at {self.scoring_uri}")
            return prepared.release
        client = docker_client()
        self._ensure_front(client, spec, settings, say)
        slot = SLOTS[1] if active.get("slot") == SLOTS[0] else SLOTS[0]
        self._remove(client, self._slot_name(slot))  # what an earlier refused release left
        say(f"starting release {prepared.release} in slot {slot}")
        container = client.containers.run(**slot_container(spec, prepared, slot=slot, name=self._slot_name(slot),
                                                           holder=self._holder_name(), labels=self._labels()))
        reason = wait_ready(container, spec.rollout.slot_ports_for(spec.port)[slot], spec.health.ready_timeout)
        if reason:
            container.reload()
            if container.status in ("running", "restarting"):
                container.stop(timeout=5)  # kept, stopped, for get_logs()
            serving = f"release {active['release']} keeps serving" if active else "nothing serves"
            tail = container.logs(tail=40).decode(errors="replace").rstrip()
            raise DeployError(f"release {prepared.release} of service {self.name} did not become ready on this "
                              f"machine ({reason}); {serving}. Last lines of its log (get_logs() has them all):\n{tail}")
        self._switch(spec, prepared, slot, active)
        if active.get("slot"):
            self._remove(client, self._slot_name(active["slot"]), stop_timeout=int(role_values("fleet_service")["fleet_service_stop_timeout"]))
        self._prune_releases(keep=work.name)
        say(f"release {prepared.release} serves at {self.scoring_uri}")
        return prepared.release

    def delete(self, say: Say) -> None:
        """Every container of the service and its folder; its port is free again."""
        with self._lock():
            client = docker_client()
            for container in self._containers(client):
                container.remove(force=True)
            shutil.rmtree(self.folder, ignore_errors=True)
        say(f"service {self.name} deleted")

    def _lock(self):
        """One deploy, update or delete of the service at a time (two notebooks, a notebook and the CLI):
        the other is refused naming the process that holds it. Beside the folder, which delete removes."""
        def refused(holder: str) -> Exception:
            return ConfigError(f"service {self.name} is being deployed, updated or deleted ({holder}); "
                               "try again when it is done")

        return file_lock(self.folder.parent / f".{self.name}.lock", 0, refused)

    def logs(self, num_lines: int | None) -> str:
        """The serving slot's log; when nothing serves, the log of the release that was refused."""
        active = self.active()
        names = [self._slot_name(active["slot"])] if active else [self._slot_name(slot) for slot in SLOTS]
        for container in self._containers():
            if container.name in names:
                return container.logs(tail=num_lines if num_lines else "all").decode(errors="replace")
        return ""

    # -- parts ---------------------------------------------------------------------------------------

    def _front_name(self) -> str:
        return f"fleetdeploy-local-{self.name}-front"

    def _holder_name(self) -> str:
        return f"fleetdeploy-local-{self.name}-net"

    def _slot_name(self, slot: str) -> str:
        return f"fleetdeploy-local-{self.name}-{slot}"

    def _labels(self) -> dict:
        return {LABEL: self.name, "fleetdeploy.local.folder": str(self.folder)}

    def _containers(self, client=None) -> list:
        client = client or docker_client()
        return client.containers.list(all=True, filters={"label": f"{LABEL}={self.name}"})

    def _ensure_front(self, client, spec: Spec, settings: Settings, say: Say) -> None:
        """The holder of the port and the front in its namespace, started or made as needed. A holder made
        anew is a new namespace: a front (or slot) left in the old one is replaced."""
        holder, front = self._container(client, self._holder_name()), self._container(client, self._front_name())
        if holder is not None and holder.status == "running" and front is not None and front.status == "running" \
                and front.attrs["HostConfig"]["NetworkMode"] == f"container:{holder.id}":
            return
        image = build_front_image(spec.environment.base_image, progress=say, build_log=_quiet)
        if holder is None:
            say(f"publishing {settings.address}:{settings.port} for {self.name}")
            holder = start_holder(client, image=image, name=self._holder_name(), address=settings.address,
                                  port=settings.port, labels=self._labels(), service=self.name)
        elif holder.status != "running":
            holder.start()
        if front is not None:
            front.remove(force=True)
        self.front.write(self.name, spec.port, spec.rollout.slot_ports_for(spec.port), self.active().get("slot"))
        say(f"starting the front of {self.name}")
        start_front(client, image=image, name=self._front_name(), files=self.front, holder=holder.id,
                    labels=self._labels(), service=self.name)

    @staticmethod
    def _container(client, name: str):
        try:
            return client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def _switch(self, spec: Spec, prepared: PreparedRelease, slot: str, active: dict) -> None:
        module = front_switch()
        slot_ports = spec.rollout.slot_ports_for(spec.port)
        drain = int(role_values("fleet_front")["fleet_front_drain_timeout"])
        try:
            with self.front.socket() as path:
                module.switch({"socket": path, "backend": self.name, "to": slot,
                               "from_server": active.get("slot"), "drain_timeout": drain}, False)
        except module.FrontError as exc:
            raise DeployError(f"service {self.name}: {exc}") from None
        self.front.write(self.name, spec.port, slot_ports, slot)  # a restarted front keeps the choice
        self.active_file.parent.mkdir(exist_ok=True)
        module.record({"state_file": str(self.active_file), "record": {
            "service": self.name, "release": prepared.release, "slot": slot, "runtime": "docker",
            "instance": self._slot_name(slot), "port": spec.port, "slot_port": slot_ports[slot],
            "image": prepared.runs_from.image.tag, "release_dir": str(prepared.staged.out_dir.parent),
        }}, False)

    def _remove(self, client, name: str, stop_timeout: int = 0) -> None:
        container = self._container(client, name)
        if container is None:
            return
        if stop_timeout and container.status == "running":
            container.stop(timeout=stop_timeout)  # SIGTERM: the server finishes what it has
        container.remove(force=True)

    def _new_release_folder(self) -> Path:
        releases = self.folder / "releases"
        releases.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name) for p in releases.iterdir() if p.name.isdigit()]
        folder = releases / str(max(numbers, default=0) + 1)
        folder.mkdir()
        return folder

    def _prune_releases(self, keep: str) -> None:
        releases = self.folder / "releases"
        numbers = sorted((int(p.name) for p in releases.iterdir() if p.name.isdigit()), reverse=True)
        for number in numbers[RELEASES_KEPT:]:
            if str(number) != keep:
                shutil.rmtree(releases / str(number), ignore_errors=True)


def slot_container(spec: Spec, prepared: PreparedRelease, *, slot: str, name: str, holder: str, labels: dict) -> dict:
    """containers.run()'s arguments for a release in `slot`: as roles/fleet_service runs it on a node
    (its defaults: user, restart policy, logs; read-only code and models, no capabilities), listening on
    the slot's port inside the service's network namespace (the holder's, shared with the front)."""
    defaults = role_values("fleet_service")
    staged = prepared.staged
    port = spec.rollout.slot_ports_for(spec.port)[slot]
    volumes = {str(staged.code_dir): {"bind": f"{APP_ROOT}/code", "mode": "ro"}}
    for model in staged.models:
        volumes[str(model.dir)] = {"bind": f"{MODELS_MOUNT}/{model.name}/{model.version}", "mode": "ro"}
    env = {
        "AML_APP_ROOT": f"{APP_ROOT}/code",
        "AZUREML_ENTRY_SCRIPT": staged.entry_script,
        "AZUREML_MODEL_DIR": f"{MODELS_MOUNT}/{staged.model_dir_suffix}".rstrip("/"),
        "FLEETDEPLOY_SERVICE": spec.service,
        "FLEETDEPLOY_RELEASE": prepared.release,
        "FLEETDEPLOY_PORT": str(port),
        "FLEETDEPLOY_WORKERS": str(spec.server.workers),
        "FLEETDEPLOY_TIMEOUT": str(int(spec.server.timeout)),
        "FLEETDEPLOY_MAX_BODY": str(spec.server.max_body),
        "FLEETDEPLOY_LOG_LEVEL": spec.server.log_level,
        "FLEETDEPLOY_DRAIN_TIMEOUT": str(defaults["fleet_service_drain_timeout"]),
    }
    if spec.health.sample_request_body():
        env["FLEETDEPLOY_SAMPLE_REQUEST"] = spec.health.sample_request_body()
    if prepared.secrets_file:
        volumes[str(prepared.secrets_file)] = {"bind": "/run/fleetdeploy/secrets.json", "mode": "ro"}
        env["FLEETDEPLOY_SECRETS_FILE"] = "/run/fleetdeploy/secrets.json"
    env.update(spec.env)
    return {
        "image": prepared.runs_from.image.tag,
        "name": name,
        "detach": True,
        "network_mode": f"container:{holder}",
        "user": defaults["fleet_service_user"],
        "environment": env,
        "volumes": volumes,
        "labels": {**labels, "fleetdeploy.slot": slot, "fleetdeploy.release": prepared.release},
        "restart_policy": {"Name": defaults["fleet_service_restart_policy"]},
        "init": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "nano_cpus": int(spec.resources.cpus * 1e9) if spec.resources.cpus else None,
        "mem_limit": spec.resources.memory or None,
        "log_config": log_config(),
    }


def wait_ready(container, port: int, timeout: float) -> str | None:
    """None once the slot answers /ready on its port (asked from inside: the port is the service's
    namespace's), else why not: init() failed (the container stopped or restarts), or the time ran out."""
    probe = ["python3", "-c",
             f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready', timeout=2)"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        if state["Status"] != "running":
            return f"its server exited with code {state.get('ExitCode')}: init() or the server failed"
        if state.get("Restarting") or container.attrs.get("RestartCount", 0):
            return "its server exited and Docker restarted it: init() or the server failed"
        try:
            code, _ = container.exec_run(probe)
        except docker.errors.APIError:
            code = 1  # stopping between the reload and the exec: the next round says why
        if code == 0:
            return None
        time.sleep(READY_POLL)
    return f"not ready after {timeout:.0f} s"


def _quiet(line: str) -> None:
    """Docker's build output: a failed build's error carries its last lines (image/builder.py)."""
