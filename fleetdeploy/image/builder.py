"""Building scoring images in two stages, each skipped when its inputs are unchanged:

1. `fleetdeploy-env:<env_hash>`: base image + the user's pip requirements. env_hash covers the base
   image's id, the resolved requirement lines and the Dockerfile template, so an unchanged
   environment is never rebuilt (pip installs are the slow part).
2. `fleetdeploy-<service>:<server_hash>`: env image + fleetdeploy's scoring server (a wheel of this
   checkout). server_hash covers the env image's id, the server's sources and its template.

Models and the entry script are never in the image; see fleetdeploy.artifacts.
"""

from __future__ import annotations

import hashlib
import io
import json
import ssl
import tarfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from fleetdeploy import __version__
from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import ConfigError, EnvironmentProblem, FleetdeployError
from fleetdeploy.image.environment import (
    EnvironmentInput,
    ResolvedEnvironment,
    check_python,
    resolve_environment,
)
from fleetdeploy.image.server_wheel import SERVE_REQUIREMENTS, ServerWheel, build_server_wheel
from fleetdeploy.image.templating import render_template, template_text
from fleetdeploy.paths import cache_home

Progress = Callable[[str], None]
_TAIL_LINES = 25


class ImageBuildError(FleetdeployError):
    """`docker build` of an env or scoring image failed; the message holds the failing step's log."""


@dataclass(frozen=True)
class BuiltImage:
    tag: str  # fleetdeploy-<service>:<server_hash>
    image_id: str
    env_hash: str
    env_tag: str
    env_image_id: str
    server_version: str
    env_cached: bool  # True: the env image existed and was not rebuilt
    server_cached: bool
    notices: tuple[str, ...] = ()


# Packages whose `tests` folders are their own test suites, never imported at run time: left out of
# environment images. Others may keep importable code in a folder of that name, so they are not touched.
PACKAGES_WITHOUT_TESTS = ("numpy", "scipy", "sklearn", "pandas", "matplotlib", "skimage", "statsmodels")


def build_scoring_image(
    env: EnvironmentInput,
    *,
    base_image: str,
    service: str,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    ca_bundle: Path | None | str = "auto",
    build_log: Progress | None = None,
) -> BuiltImage:
    """Build (or reuse) the env image and the scoring image for `service`.

    `env` is an EnvironmentInput or anything with `pip` and `conda` paths (the spec's `environment`).
    `progress` gets one line per stage (building / cached) and each notice; `build_log` gets Docker's
    own output, line by line (to `progress` when not given). Both are plain text, never markup.

    `ca_bundle`: CA certificates pip trusts during the build. "auto" uses the controller's own trust
    store, so builds work behind the TLS-inspecting proxies the controller itself trusts; None leaves
    pip's bundled certificates.
    """
    if not isinstance(env, EnvironmentInput):  # the spec's `environment` section works as it is
        env = EnvironmentInput(pip=env.pip, conda=env.conda)
    say = progress or (lambda line: None)
    client = docker_client()
    base = _local_image(client, base_image, "environment.base_image")
    resolved = resolve_environment(env)
    for notice in resolved.notices:
        say(notice)
    if resolved.python_spec:
        check_python(resolved, _python_version(client, base), base_image=base_image, source=env.source)
    stage = _Stage(client, _ca_bundle_bytes(ca_bundle), say, build_log or say)
    env_image, env_hash, env_cached = _env_stage(stage, base, base_image, resolved)
    wheel = build_server_wheel(Path(cache_dir) if cache_dir else cache_home())
    image, tag, server_cached = _server_stage(stage, env_image, env_hash, wheel, service)
    say(size_line(tag, base, env_image, image))
    return BuiltImage(
        tag=tag,
        image_id=image.id,
        env_hash=env_hash,
        env_tag=_env_tag(env_hash),
        env_image_id=env_image.id,
        server_version=__version__,
        env_cached=env_cached,
        server_cached=server_cached,
        notices=resolved.notices,
    )


@dataclass(frozen=True)
class _Stage:
    """What both build stages share."""

    client: object
    ca: bytes | None
    say: Progress
    log: Progress


def _env_stage(stage: _Stage, base, base_image: str, resolved: ResolvedEnvironment):
    env_hash = environment_hash(base.id, resolved)
    tag = _env_tag(env_hash)
    image, cached = _cached(stage.client, tag, "fleetdeploy.env_hash", env_hash)
    if cached:
        stage.say(f"env image {tag} is up to date (cached)")
        return image, env_hash, True
    stage.say(f"building env image {tag} from {base_image}")
    dockerfile = render_template(
        "env.Dockerfile.j2",
        base_image=base.id,
        env_hash=env_hash,
        ca_bundle=bool(stage.ca),
        without_tests=PACKAGES_WITHOUT_TESTS,
    )
    files = {"requirements.txt": resolved.requirements_text().encode()}
    return _build(stage, tag, dockerfile, files), env_hash, False


def _server_stage(stage: _Stage, env_image, env_hash: str, wheel: ServerWheel, service: str):
    template = template_text("server.Dockerfile.j2")
    server_hash = _hash({"env": env_image.id, "server": wheel.source_hash, "template": template})
    tag = f"fleetdeploy-{service}:{server_hash}"
    image, cached = _cached(stage.client, tag, "fleetdeploy.server_hash", server_hash)
    if cached:
        stage.say(f"scoring image {tag} is up to date (cached)")
        return image, tag, True
    stage.say(f"building scoring image {tag}")
    dockerfile = render_template(
        "server.Dockerfile.j2",
        env_image=env_image.id,
        wheel=wheel.path.name,
        ca_bundle=bool(stage.ca),
        env_hash=env_hash,
        server_version=__version__,
        server_hash=server_hash,
    )
    files = {"requirements.txt": SERVE_REQUIREMENTS.read_bytes(), wheel.path.name: wheel.path.read_bytes()}
    return _build(stage, tag, dockerfile, files), tag, False


def build_front_image(base_image: str, *, progress: Progress | None = None, build_log: Progress | None = None) -> str:
    """The front image (HAProxy on `base_image`) for services on this machine's engine, built once per base
    image and template. Returns its tag."""
    say = progress or (lambda line: None)
    client = docker_client()
    base = _local_image(client, base_image, "environment.base_image")
    front_hash = _hash({"base": base.id, "template": template_text("front.Dockerfile.j2")})
    tag = f"fleetdeploy-front:{front_hash}"
    _, cached = _cached(client, tag, "fleetdeploy.front_hash", front_hash)
    if cached:
        return tag
    say(f"building front image {tag} (HAProxy) from {base_image}")
    stage = _Stage(client, None, say, build_log or say)
    _build(stage, tag, render_template("front.Dockerfile.j2", base_image=base.id, front_hash=front_hash), {})
    return tag


def size_line(tag: str, base, env_image, image) -> str:
    """What takes the scoring image's space, layer group by layer group (MB as `docker images` counts)."""
    total, env, below = (int(item.attrs.get("Size") or 0) for item in (image, env_image, base))
    return (
        f"scoring image {tag}: {total / 1e6:.0f} MB (base image {below / 1e6:.0f} MB, environment "
        f"{(env - below) / 1e6:.0f} MB, scoring server {(total - env) / 1e6:.0f} MB)"
    )


def _env_tag(env_hash: str) -> str:
    return f"fleetdeploy-env:{env_hash}"


def environment_hash(base_image_id: str, resolved: ResolvedEnvironment) -> str:
    return _hash(
        {
            "base": base_image_id,
            "requirements": list(resolved.requirements),
            "template": template_text("env.Dockerfile.j2"),
            "without_tests": list(PACKAGES_WITHOUT_TESTS),
        }
    )


def _hash(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _local_image(client, name: str, field: str):
    # Never pulled implicitly: a build must not reach for a registry the user did not choose.
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(
            f"{field}: image {name} is not in the local Docker engine; `docker pull {name}` "
            "(or build it: `fleetdeploy sandbox images` for fleetdeploy/* images) and try again"
        ) from None


def _cached(client, tag: str, label: str, value: str):
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None, False
    return image, image.labels.get(label) == value


def _python_version(client, base) -> str:
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    name = base.tags[0] if base.tags else base.id
    container = client.containers.create(
        base.id,
        ["python3", "-c", code],
        network_disabled=True,
        labels={"fleetdeploy.probe": "python-version"},
    )
    try:
        container.start()
        status = container.wait(timeout=60).get("StatusCode")
        output = container.logs().decode(errors="replace").strip()
    except docker.errors.APIError as exc:
        status, output = None, exc.explanation or str(exc)
    finally:
        container.remove(force=True)
    if status != 0:
        raise EnvironmentProblem(
            f"environment.base_image: {name} has no working `python3` ({output}); "
            "scoring images need a Python base image such as python:3.11-slim"
        )
    return output


def _ca_bundle_bytes(ca_bundle: Path | None | str) -> bytes | None:
    if ca_bundle is None:
        return None
    if ca_bundle == "auto":
        paths = ssl.get_default_verify_paths()
        found = next((Path(p) for p in (paths.cafile, paths.openssl_cafile) if p and Path(p).is_file()), None)
        return found.read_bytes() if found else None
    path = Path(ca_bundle)
    if not path.is_file():
        raise ConfigError(f"ca_bundle: {path} does not exist")
    return path.read_bytes()


def _build(stage: _Stage, tag: str, dockerfile: str, files: dict[str, bytes]):
    client, log = stage.client, stage.log
    if stage.ca:
        files = {**files, "build-ca.pem": stage.ca}
    context = _context_tar({"Dockerfile": dockerfile.encode(), **files})
    step, tail = "", deque(maxlen=_TAIL_LINES)
    image_id = None
    try:
        for chunk in client.api.build(
            fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True
        ):
            if "error" in chunk:
                raise ImageBuildError(_failure(tag, step, tail, chunk["error"]))
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            for line in chunk.get("stream", "").splitlines():
                if line.startswith("Step "):
                    step, tail = line, deque(maxlen=_TAIL_LINES)
                elif line.strip():
                    tail.append(line)
                if line.strip():
                    log(line)
    except docker.errors.APIError as exc:
        raise ImageBuildError(
            f"building {tag}: the Docker engine refused: {exc.explanation or exc}"
        ) from None
    return client.images.get(image_id or tag)


def _failure(tag: str, step: str, tail, error: str) -> str:
    log = "\n".join(f"  | {line}" for line in tail)
    return f"building image {tag} failed at {step or 'the start'}: {error.strip()}\n{log}"


def _context_tar(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer
