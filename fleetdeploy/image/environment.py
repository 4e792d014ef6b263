"""Turning a user's environment file (pip requirements or an Azure-style conda yaml) into the pip
requirement lines installed into the scoring image. Pure: reads files, never runs anything."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from fleetdeploy.errors import ConfigError

# Azure's own scoring server; fleetdeploy's server replaces it, and it would pull in half of azureml.
REPLACED_PACKAGES = frozenset({"azureml-defaults", "azureml-inference-server-http"})
# Conda dependencies a plain python base image already provides.
_PROVIDED_BY_BASE = frozenset({"python", "pip"})
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class EnvironmentInput:
    """Exactly one of a pip requirements file or a conda environment yaml."""

    pip: Path | None = None
    conda: Path | None = None

    def __post_init__(self):
        if (self.pip is None) == (self.conda is None):
            raise ConfigError("environment: give exactly one of pip or conda")

    @property
    def source(self) -> Path:
        return Path(self.pip or self.conda)


@dataclass(frozen=True)
class ResolvedEnvironment:
    """What the env image installs: pip requirement lines, plus what a conda file asked of Python."""

    requirements: tuple[str, ...]
    python_spec: str | None = None  # conda's `python=3.x` as a PEP 440 specifier, checked against the base
    notices: tuple[str, ...] = field(default=())

    def requirements_text(self) -> str:
        return "".join(f"{line}\n" for line in self.requirements)


def resolve_environment(env: EnvironmentInput) -> ResolvedEnvironment:
    if env.pip is not None:
        lines = _read_requirements(Path(env.pip), seen=())
        return _drop_replaced(lines, source=Path(env.pip), python_spec=None)
    return _resolve_conda(Path(env.conda))


def check_python(resolved: ResolvedEnvironment, base_python: str, *, base_image: str, source: Path) -> None:
    """Refuse a conda file whose python pin the base image's Python does not satisfy."""
    if resolved.python_spec is None:
        return
    if Version(base_python) not in SpecifierSet(resolved.python_spec):
        raise ConfigError(
            f"{source}: asks for python {resolved.python_spec} but base image {base_image} has Python "
            f"{base_python}; change the pin or set environment.base_image to an image with that Python"
        )


def requirement_name(line: str) -> str | None:
    """The normalized project name a requirement line installs, or None for options and URLs."""
    if line.startswith("-") or "://" in line.split("@")[0]:
        return None
    match = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def _read_requirements(path: Path, seen: tuple[Path, ...]) -> list[str]:
    if not path.is_file():
        where = f"{seen[-1]}: -r {path}" if seen else f"environment.pip: {path}"
        raise ConfigError(f"{where} does not exist")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: includes itself through -r")
    lines: list[str] = []
    for number, line in _logical_lines(path.read_text()):
        where = f"{path}:{number}"
        option, _, value = line.partition(" ")
        if option in ("-r", "--requirement"):
            lines += _read_requirements(path.parent / value.strip(), seen + (path.resolve(),))
        elif option in ("-c", "--constraint", "-e", "--editable"):
            raise ConfigError(
                f"{where}: {option} is not supported in a scoring image; list the packages instead"
            )
        elif line.startswith((".", "/", "file:")):
            raise ConfigError(f"{where}: local path {line!r} is not available inside the image build")
        else:
            lines.append(line)
    return lines


def _logical_lines(text: str):
    """(line number, line) without comments, blank lines or backslash continuations."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield start, " ".join(line.split())
    if pending.strip():
        yield start, " ".join(pending.split())


def _resolve_conda(path: Path) -> ResolvedEnvironment:
    if not path.is_file():
        raise ConfigError(f"environment.conda: {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    dependencies = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(dependencies, list):
        raise ConfigError(f"{path}: dependencies: expected a list (conda environment file)")
    pip_lines: list[str] = []
    python_spec = None
    conda_only: list[str] = []
    for index, dep in enumerate(dependencies):
        if isinstance(dep, dict) and set(dep) == {"pip"}:
            if not isinstance(dep["pip"], list):
                raise ConfigError(f"{path}: dependencies[{index}].pip: expected a list of pip requirements")
            pip_lines += [" ".join(str(item).split()) for item in dep["pip"]]
            continue
        if not isinstance(dep, str):
            raise ConfigError(
                f"{path}: dependencies[{index}]: expected a package or a pip: list, got {dep!r}"
            )
        name, spec = _conda_match_spec(dep)
        if name == "python":
            python_spec = _python_specifier(spec, path, dep)
        elif name not in _PROVIDED_BY_BASE:
            conda_only.append(dep)
    if conda_only:
        raise ConfigError(
            f"{path}: needs conda packages {', '.join(conda_only)}; no conda channel is used here. Move them "
            "to the pip: list if they are on PyPI, or use a conda-capable base image / the conda runtime"
        )
    return _drop_replaced(pip_lines, source=path, python_spec=python_spec)


def _conda_match_spec(dep: str) -> tuple[str, str]:
    """'conda-forge::numpy>=1.2' -> ('numpy', '>=1.2'); 'python=3.8' -> ('python', '=3.8')."""
    dep = dep.split("::")[-1].strip()
    match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", dep)
    if not match:
        return dep, ""
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _python_specifier(spec: str, path: Path, dep: str) -> str | None:
    if not spec:
        return None
    if re.fullmatch(r"=?[0-9][0-9.]*\*?(=\S+)?", spec):  # conda's `=3.8`, `3.8` and `=3.8.5=build`
        version = spec.lstrip("=").split("=")[0].rstrip("*").rstrip(".")
        spec = f"=={version}.*" if version.count(".") < 2 else f"=={version}"
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        raise ConfigError(f"{path}: cannot read the python version in {dep!r}") from None
    return spec


def _drop_replaced(lines: list[str], *, source: Path, python_spec: str | None) -> ResolvedEnvironment:
    kept, dropped = [], []
    for line in lines:
        (dropped if requirement_name(line) in REPLACED_PACKAGES else kept).append(line)
    notices = tuple(
        f"{source}: not installing {line!r}: it is Azure's scoring server, which fleetdeploy's replaces"
        for line in dropped
    )
    return ResolvedEnvironment(tuple(kept), python_spec, notices)
