"""The registry that tunnel transfer pulls from (docs/image.md, "Transfer"): Debian's `docker-registry`
(CNCF distribution) on the controller's loopback for the length of one apply, holding the scoring images
in `<cache>/registry/`. Nodes reach it through an SSH remote forward on their own loopback and
`docker pull` from it, so a node receives only the layers it lacks: the base and an unchanged
environment stay where they are. The storage outlives the apply, so a push sends the registry only the
layers it lacks too.

Each apply runs its own registry process on a port of its own (two applies from one controller never
share a port, on the controller or on a node); they share the storage, which distribution allows (it is
how several registry instances serve one bucket). Old images are pruned and their blobs collected when
no other apply is using the storage."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import requests

from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import DeployError
from fleetdeploy.image.builder import BuiltImage
from fleetdeploy.image.push import push_image
from fleetdeploy.paths import cache_home
from fleetdeploy.ports import free_port, port_taken

BINARY = "docker-registry"  # Debian's name for distribution's `registry`
KEEP_IMAGES = 3  # per service: what a rollback to a recent release pulls without a new push
START_TIMEOUT = 15.0


class RegistryUnavailable(DeployError):
    """The tunnel registry cannot run on this controller (binary missing, port taken, start failed)."""


@dataclass(frozen=True)
class TunnelRegistry:
    port: int
    log: Path  # the registry's output: the run folder's registry.log

    @property
    def address(self) -> str:
        """As the controller pushes to it and as nodes pull from it, through their forward."""
        return f"127.0.0.1:{self.port}"


def registry_root() -> Path:
    return cache_home() / "registry"


def config_text(root: Path, port: int) -> str:
    """distribution's configuration: filesystem storage, loopback only, deletes allowed (for pruning)."""
    return "\n".join([
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'storage'}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        # Only this process serves its uploads; a secret of its own silences distribution's warning.
        f"  secret: {secrets.token_hex(16)}",
        "",
    ])


@contextmanager
def tunnel_registry(
    port: int | None, log: Path, *, say: Callable[[str], None] = lambda line: None
) -> Iterator[TunnelRegistry]:
    """A registry on 127.0.0.1 (`port`, or a free one) for the block, its output in `log` (the run
    folder's); RegistryUnavailable when it cannot run. On the way out: stopped, then old images pruned
    when no other apply uses the storage."""
    binary = shutil.which(BINARY)
    if binary is None:
        raise RegistryUnavailable(
            f"no `{BINARY}` on this controller: install it (Debian: apt-get install docker-registry), "
            "or set transfer.mode: archive in the spec"
        )
    if port is not None and port_taken(port):
        raise RegistryUnavailable(
            f"port {port} on 127.0.0.1 is taken on this controller: transfer.port in the spec names it; "
            "free it, pick another, or leave transfer.port out for a free one"
        )
    root = registry_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "users.lock", "a+") as users:
        fcntl.flock(users, fcntl.LOCK_SH)  # held while this apply uses the storage
        process, registry = _start(binary, root, port, log)
        try:
            yield registry
        finally:
            _stop(process)
            fcntl.flock(users, fcntl.LOCK_UN)
    _prune_when_unused(binary, root, say)


def _start(binary: str, root: Path, port: int | None, log_path: Path) -> tuple[subprocess.Popen, TunnelRegistry]:
    chosen = port or free_port()
    config = root / f"config-{os.getpid()}-{chosen}.yml"
    config.write_text(config_text(root, chosen))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C for the apply is handled by the apply, which stops this
        )
    registry = TunnelRegistry(chosen, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RegistryUnavailable(
                    f"{BINARY} on 127.0.0.1:{chosen} exited at start ({_last_lines(log_path)})"
                )
            if _answers(registry):
                return process, registry
            time.sleep(0.1)
    finally:
        config.unlink(missing_ok=True)  # read at start; nothing else needs it
    _stop(process)
    raise RegistryUnavailable(f"{BINARY} on 127.0.0.1:{chosen} did not answer within {START_TIMEOUT:g} s")


def _answers(registry: TunnelRegistry) -> bool:
    try:
        answer = requests.get(f"http://{registry.address}/v2/", timeout=1)
    except requests.RequestException:
        return False
    return answer.status_code == 200 and "registry/2.0" in answer.headers.get("Docker-Distribution-Api-Version", "")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last_lines(path: Path, count: int = 3) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(lines[-count:]) or "no output"


def push(image: BuiltImage, registry: TunnelRegistry, *, say: Callable[[str], None]) -> str:
    """The image pushed (only the layers the storage lacks travel); its name as nodes pull it. The
    controller's engine keeps no tag of it: the port is this apply's only."""
    name = push_image(image, registry.address, say=say, hint=f"the registry's log: {registry.log}")
    try:
        docker_client().images.remove(name, noprune=True)
    except docker.errors.APIError:
        pass  # a tag left behind costs nothing but a line in `docker images`
    return name


def _prune_when_unused(binary: str, root: Path, say: Callable[[str], None]) -> None:
    """Keep each service's KEEP_IMAGES newest tags, then let distribution collect what nothing references.
    Only when no apply uses the storage (a collection during a push could drop a layer it just wrote)."""
    with open(root / "users.lock", "a+") as users:
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        try:
            if not prune_tags(root / "storage", KEEP_IMAGES):
                return
            config = root / f"config-{os.getpid()}-gc.yml"
            config.write_text(config_text(root, 0))
            done = subprocess.run(
                [binary, "garbage-collect", "--delete-untagged", str(config)],
                capture_output=True, text=True, check=False,
            )
            config.unlink(missing_ok=True)
            if done.returncode != 0:
                say(f"tunnel registry: collecting old layers failed ({done.stderr.strip()[-200:]}); they stay")
        finally:
            fcntl.flock(users, fcntl.LOCK_UN)


def prune_tags(storage: Path, keep: int) -> list[Path]:
    """Untag all but each repository's `keep` most recently pushed tags (distribution's own layout:
    repositories/<name>/_manifests/tags/<tag>/current/link); the tags removed."""
    removed = []
    for tags in (storage / "docker/registry/v2/repositories").glob("**/_manifests/tags"):
        by_age = sorted(tags.iterdir(), key=lambda tag: (tag / "current/link").stat().st_mtime
                        if (tag / "current/link").exists() else 0, reverse=True)
        for tag in by_age[keep:]:
            shutil.rmtree(tag)
            removed.append(tag)
    return removed
