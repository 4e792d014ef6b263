"""`Environment`: the Python packages a model needs, as the SDK's Environment keeps them (a pip
requirements file or a conda specification), registered with versions in the workspace."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from fleetdeploy.errors import ConfigError
from fleetdeploy.registry import Workspace

PIP_FILE = "requirements.txt"
CONDA_FILE = "conda_dependencies.yml"
DEFAULT_BASE_IMAGE = "fleetdeploy/python:3.11-slim"  # the spec's default (environment.base_image)


class Environment:
    def __init__(self, name: str):
        if not name or "/" in name or name in (".", ".."):
            raise ConfigError(f"Environment name {name!r}: a name that can be a folder name")
        self.name = name
        self.version: str | None = None  # set by register() / get()
        self.pip_requirements: list[str] | None = None
        self.conda_specification: dict | None = None

    @classmethod
    def from_pip_requirements(cls, name: str, file_path, pip_version: str | None = None) -> Environment:
        env = cls(name)
        env.pip_requirements = _requirement_lines(_read(file_path, "file_path"))
        return env

    @classmethod
    def from_conda_specification(cls, name: str, file_path) -> Environment:
        env = cls(name)
        try:
            content = yaml.safe_load(_read(file_path, "file_path"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file_path}: not YAML ({exc})") from None
        if not isinstance(content, dict) or not isinstance(content.get("dependencies"), list):
            raise ConfigError(f"{file_path}: a conda specification needs a `dependencies:` list")
        env.conda_specification = content
        return env

    @property
    def kind(self) -> str:
        return "conda" if self.conda_specification is not None else "pip"

    def file_text(self) -> str:
        """The environment as the file the spec's environment: section takes."""
        if self.conda_specification is not None:
            return yaml.safe_dump(self.conda_specification, sort_keys=False)
        return "".join(f"{line}\n" for line in self.pip_requirements or [])

    def register(self, workspace: Workspace) -> Environment:
        """A new version when the definition changed since the latest (as Azure: same content, same version)."""
        folder = workspace.path / "environments" / self.name
        versions = _versions(folder)
        if versions and _load(folder / str(versions[-1])).file_text() == self.file_text():
            self.version = str(versions[-1])
            return self
        version = (versions[-1] if versions else 0) + 1
        staging = folder / f".{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / (CONDA_FILE if self.kind == "conda" else PIP_FILE)).write_text(self.file_text())
        (staging / "environment.json").write_text(json.dumps(
            {"name": self.name, "version": str(version), "kind": self.kind,
             "created": datetime.now(UTC).isoformat(timespec="seconds")}, indent=2) + "\n")
        staging.rename(folder / str(version))
        self.version = str(version)
        return self

    @staticmethod
    def get(workspace: Workspace, name: str, version: str | int | None = None, label=None) -> Environment:
        folder = workspace.path / "environments" / name
        versions = _versions(folder)
        if not versions:
            known = Environment.registered(workspace)
            raise ConfigError(f"no registered environment named {name!r} in {workspace.path} "
                              f"(registered: {', '.join(known) or 'none yet'})")
        chosen = int(version) if version is not None and str(version).isdigit() else versions[-1]
        if chosen not in versions:
            raise ConfigError(f"environment {name} has no version {version} (versions: {', '.join(map(str, versions))})")
        return _load(folder / str(chosen))

    @staticmethod
    def registered(workspace: Workspace) -> dict[str, list[int]]:
        """{name: its versions, oldest first} of every environment registered in the workspace."""
        folder = workspace.path / "environments"
        found = {p.name: _versions(p) for p in sorted(folder.iterdir())} if folder.is_dir() else {}
        return {name: versions for name, versions in found.items() if versions}

    def build_local(self, workspace: Workspace, platform=None, useDocker: bool = False,
                    pushImageToWorkspaceAcr: bool = False, base_image: str = DEFAULT_BASE_IMAGE, **_cloud) -> str:
        """The environment on this machine, with fleetdeploy's scoring server in it: a Python environment
        under the workspace (useDocker=False: a venv for pip, `conda env create` for conda), or the
        scoring image on the local Docker engine (useDocker=True). Returns the environment's folder (its
        bin/fleetdeploy serves) or the image's tag. Registers the environment first if it is not."""
        if self.version is None:
            self.register(workspace)
        if useDocker:
            from fleetdeploy.image.builder import build_scoring_image
            from fleetdeploy.image.environment import EnvironmentInput

            folder = workspace.path / "environments" / self.name / str(self.version)
            source = folder / (CONDA_FILE if self.kind == "conda" else PIP_FILE)
            given = {"conda": source} if self.kind == "conda" else {"pip": source}
            return build_scoring_image(EnvironmentInput(**given), base_image=base_image, service=f"env-{self.name}").tag
        return str(_build_python_environment(self, workspace.path / "environments" / self.name / str(self.version)))

    def save_to_directory(self, path, overwrite: bool = False) -> None:
        """conda_dependencies.yml (pip requirements become its pip section) and azureml_environment.json,
        as the SDK writes them."""
        folder = Path(path)
        targets = [folder / CONDA_FILE, folder / "azureml_environment.json"]
        if not overwrite and any(target.exists() for target in targets):
            raise ConfigError(f"{folder}: already holds an environment; pass overwrite=True to replace it")
        folder.mkdir(parents=True, exist_ok=True)
        conda = self.conda_specification or {
            "name": self.name, "dependencies": ["python=3.11", "pip", {"pip": list(self.pip_requirements or [])}],
        }
        targets[0].write_text(yaml.safe_dump(conda, sort_keys=False))
        targets[1].write_text(json.dumps({"name": self.name, "version": self.version,
                                          "python": {"condaDependenciesFile": CONDA_FILE}}, indent=2) + "\n")

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r}, kind={self.kind!r})"


def _read(path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None


def _requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / "environment.json").exists())


def _load(folder: Path) -> Environment:
    meta = json.loads((folder / "environment.json").read_text())
    if meta["kind"] == "conda":
        env = Environment.from_conda_specification(meta["name"], folder / CONDA_FILE)
    else:
        env = Environment.from_pip_requirements(meta["name"], folder / PIP_FILE)
    env.version = meta["version"]
    return env


def _build_python_environment(env: Environment, folder: Path) -> Path:
    """folder/local: the environment's packages and the scoring server's wheel (the one images get). Made
    in place (a venv's scripts name their interpreter by its path) and removed again if a step fails."""
    from fleetdeploy.image.server_wheel import build_server_wheel
    from fleetdeploy.paths import cache_home

    target = folder / "local"
    shutil.rmtree(target, ignore_errors=True)
    wheel = build_server_wheel(cache_home()).path
    try:
        if env.kind == "conda":
            conda = shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba")
            if conda is None:
                raise ConfigError(f"environment {env.name}: build_local(useDocker=False) of a conda environment "
                                  "needs conda on this machine (not found on PATH); useDocker=True builds the "
                                  "scoring image")
            _run([conda, "env", "create", "--yes", "--prefix", str(target), "--file", str(folder / CONDA_FILE)], env)
        else:
            _run([sys.executable, "-m", "venv", str(target)], env)
            _run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "-r", str(folder / PIP_FILE)], env)
        _run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              str(wheel)], env)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _run(argv: list[str], env: Environment) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ConfigError(f"environment {env.name}: `{' '.join(argv[:4])} ...` failed (exit {done.returncode}):\n{tail}")
