"""Preparing a release for the venv or conda runtime: no image; instead the scoring server's wheel,
the environment files the node builds from, an optional wheelhouse and the conda installer's checksum.
Nothing here touches a node."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.artifacts import StagedArtifacts, release_id
from fleetdeploy.digests import file_sha256
from fleetdeploy.image.server_wheel import build_server_wheel
from fleetdeploy.native.environment import NativeEnvironment, resolve_native_environment
from fleetdeploy.native.wheelhouse import build_wheelhouse
from fleetdeploy.paths import cache_home
from fleetdeploy.spec.model import Spec

Say = Callable[[str], None]


@dataclass(frozen=True)
class NativeRelease:
    """What a venv or conda node needs from the controller for one release."""

    environment: NativeEnvironment
    files_dir: Path  # requirements.txt, server-requirements.txt, environment.yml and the server wheel
    wheel_name: str
    wheelhouse: Path | None  # venv, air-gapped: wheels for every requirement
    installer_sha256: str | None  # conda: the installer's checksum (given, or computed for a local file)
    ca_bundle: Path | None = None  # the controller's CA certificates, for nodes behind the same TLS proxy

    @property
    def env_hash(self) -> str:
        return self.environment.env_hash

    @property
    def identity(self) -> str:
        """What the release id hashes in the place of an image."""
        return f"{self.environment.runtime}:{self.env_hash}"


def prepare_native(spec: Spec, work_dir: Path, *, say: Say = print) -> NativeRelease:
    wheel = build_server_wheel(cache_home())
    environment = resolve_native_environment(spec, wheel.source_hash)
    for notice in environment.notices:
        say(notice)
    say(f"{spec.runtime} environment {environment.env_hash} (built on each node that lacks it)")
    files = Path(work_dir) / "environment" / environment.env_hash
    files.mkdir(parents=True, exist_ok=True)
    (files / "requirements.txt").write_text(environment.requirements_text())
    (files / "server-requirements.txt").write_text(environment.server_requirements_text())
    if environment.conda is not None:
        (files / "environment.yml").write_text(environment.conda_yaml())
    wheel_copy = files / wheel.path.name
    if not wheel_copy.exists():
        shutil.copy2(wheel.path, wheel_copy)
    wheelhouse = None
    venv = spec.node_runtime.venv
    if spec.runtime == "venv" and venv.wheelhouse:
        say(f"downloading wheels for Python {', '.join(venv.wheelhouse_python)} ({venv.wheelhouse_platform})")
        lines = [*environment.requirements, *environment.server_requirements]
        wheelhouse = build_wheelhouse(
            lines,
            cache_home(),
            pythons=venv.wheelhouse_python,
            arch=venv.wheelhouse_platform,
            index_url=venv.index_url,
        )
    ca_bundle = controller_ca_bundle()
    if ca_bundle is not None:
        shutil.copyfile(ca_bundle, files / "ca.pem")
    return NativeRelease(
        environment,
        files,
        wheel.path.name,
        wheelhouse,
        installer_checksum(spec),
        files / "ca.pem" if ca_bundle else None,
    )


def controller_ca_bundle() -> Path | None:
    """The CA certificates this machine trusts (as image builds use them): nodes that reach the package
    index through the same TLS-inspecting proxy trust it too."""
    paths = ssl.get_default_verify_paths()
    return next((Path(p) for p in (paths.cafile, paths.openssl_cafile) if p and Path(p).is_file()), None)


def installer_checksum(spec: Spec) -> str | None:
    """The sha256 the node checks the conda installer against: the spec's, or (for a file shipped from
    here) the file's own, so a copy damaged on the way is never run."""
    if spec.runtime != "conda":
        return None
    conda = spec.node_runtime.conda
    if conda.installer_sha256 or conda.installer_is_url:
        return conda.installer_sha256
    return file_sha256(Path(conda.installer))


def native_release_id(native: NativeRelease, staged: StagedArtifacts, settings: dict) -> str:
    """The release identity, with the environment in the place of the image."""
    return release_id(native.identity, staged, settings)
