"""What a venv or conda environment on a node is made of, decided on the controller, and its hash.

The hash names the environment's folder on the node (`envs/<env_hash>`), so a node builds an
environment only when something in it changed, and the release serving now keeps its own
environment untouched while the next one is built beside it. It covers everything that ends up in
the folder: the user's packages, the scoring server's own requirements and wheel, the conda file as
resolved (channels included), and how the node installs them (index, wheelhouse, interpreter).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from fleetdeploy.image.environment import (
    REPLACED_PACKAGES,
    EnvironmentInput,
    requirement_name,
    resolve_environment,
)
from fleetdeploy.image.server_wheel import SERVE_REQUIREMENTS
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.node_runtime import SERVER_MIN_PYTHON, allowed_pythons, conda_match_spec

# Bumped when the way the roles build an environment changes, so nodes rebuild rather than reuse.
RECIPE_VERSION = 1


@dataclass(frozen=True)
class NativeEnvironment:
    """The environment of one release for the venv or conda runtime."""

    runtime: str  # venv | conda
    requirements: tuple[str, ...]  # the user's pip lines (Azure's own server left out)
    server_requirements: tuple[str, ...]  # fleetdeploy serve's own (serve/requirements.txt)
    pythons: tuple[str, ...]  # venv: node Pythons (major.minor) the environment accepts
    conda: dict[str, Any] | None  # conda: the environment file the node gets, resolved
    env_hash: str
    notices: tuple[str, ...] = field(default=())

    def requirements_text(self) -> str:
        return "".join(f"{line}\n" for line in self.requirements)

    def server_requirements_text(self) -> str:
        return "".join(f"{line}\n" for line in self.server_requirements)

    def conda_yaml(self) -> str:
        return yaml.safe_dump(self.conda, sort_keys=False, default_flow_style=False)


def server_requirements() -> tuple[str, ...]:
    lines = SERVE_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def resolve_native_environment(spec: Spec, server_hash: str) -> NativeEnvironment:
    """The environment `spec` asks for under its venv or conda runtime; `server_hash` identifies the
    scoring server wheel that goes into it."""
    env = spec.environment
    settings = spec.node_runtime
    server = server_requirements()
    if spec.runtime == "venv":
        resolved = resolve_environment(EnvironmentInput(pip=env.pip, conda=env.conda))
        requirements = resolved.requirements
        notices = resolved.notices
        pythons = tuple(allowed_pythons(env.conda_content))
        conda = None
        recipe = {
            "python": settings.venv.python,
            "index_url": settings.venv.index_url,
            "wheelhouse": settings.venv.wheelhouse,
            "pythons": pythons,
        }
    else:
        conda, requirements, notices = resolve_conda_file(spec, server)
        pythons = ()
        recipe = {"channel_alias": settings.conda.channel_alias, "installer": settings.conda.installer}
    payload = {
        "runtime": spec.runtime,
        "recipe_version": RECIPE_VERSION,
        "requirements": list(requirements),
        "server_requirements": list(server),
        "server": server_hash,
        "conda": conda,
        "recipe": recipe,
    }
    env_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return NativeEnvironment(
        spec.runtime, tuple(requirements), server, pythons, conda, env_hash, tuple(notices)
    )


def resolve_conda_file(spec: Spec, server: tuple[str, ...]) -> tuple[dict, tuple[str, ...], tuple[str, ...]]:
    """(the conda file the node builds, the user's pip lines, notices). From a pip requirements file the
    environment is `python` + `pip` + those lines; the scoring server's requirements join the pip
    section; `node_runtime.conda.channels` replaces the file's channels (internal mirrors)."""
    env = spec.environment
    least = ".".join(map(str, SERVER_MIN_PYTHON))
    if env.conda_content is not None:
        content = env.conda_content
        conda_deps = [item for item in content.get("dependencies") or [] if isinstance(item, str)]
        user_pip = list(env.pip_requirements())
        channels = list(content.get("channels") or [])
        name = content.get("name")
    else:
        resolved = resolve_environment(EnvironmentInput(pip=env.pip))
        conda_deps, user_pip, channels, name = [], list(resolved.requirements), [], None
    kept = [line for line in user_pip if requirement_name(line) not in REPLACED_PACKAGES]
    notices = tuple(
        f"{env.file.name}: not installing {line!r}: it is Azure's scoring server, which fleetdeploy's replaces"
        for line in user_pip
        if line not in kept
    )
    names = {conda_match_spec(item)[0] for item in conda_deps}
    if "python" not in names:
        conda_deps.insert(0, f"python>={least}")
    if "pip" not in names:
        conda_deps.append("pip")
    channels = list(spec.node_runtime.conda.channels or channels or ["conda-forge"])
    if "nodefaults" not in channels:
        # Only the channels named here: never a default channel the site did not choose.
        channels.append("nodefaults")
    resolved_file: dict[str, Any] = {}
    if name:
        resolved_file["name"] = name
    resolved_file["channels"] = channels
    resolved_file["dependencies"] = [*conda_deps, {"pip": [*kept, *server]}]
    return resolved_file, tuple(kept), notices
