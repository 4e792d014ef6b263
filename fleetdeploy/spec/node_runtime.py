"""The `node_runtime` section: how the runtimes without Docker (`venv`, `conda`) set up a node, and the
checks that tie `runtime` to `environment` (a venv cannot give a Python the node does not have, nor
packages only conda has). See docs/runtimes.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import Field, ValidationInfo, field_validator

from fleetdeploy.spec.fields import base_dir, problem
from fleetdeploy.spec.sections import Section

RUNTIMES = ("docker", "venv", "conda")
NATIVE_RUNTIMES = ("venv", "conda")
# fleetdeploy's scoring server (the wheel installed into every environment) needs this Python.
SERVER_MIN_PYTHON = (3, 11)
# Miniforge's own "latest" link; `{arch}` becomes the node's architecture (x86_64, aarch64).
DEFAULT_CONDA_INSTALLER = (
    "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-{arch}.sh"
)
# Conda dependencies a venv gets from the node's Python itself.
_VENV_PROVIDED = frozenset({"python", "pip"})
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")


class VenvSettings(Section):
    """The node's own Python 3 and a virtual environment built from the pip requirements."""

    python: str = "python3"
    index_url: str | None = None
    wheelhouse: bool = False
    wheelhouse_python: list[str] = Field(default_factory=lambda: ["3.11"])
    wheelhouse_platform: str = "x86_64"

    @field_validator("python", mode="before")
    @classmethod
    def _python(cls, value: object) -> str:
        if not isinstance(value, str) or not value.strip() or any(char.isspace() for char in value):
            raise problem(
                f"not an interpreter: {value!r}", "a command or path, e.g. python3 or /usr/bin/python3.11"
            )
        return value

    @field_validator("index_url", mode="before")
    @classmethod
    def _index_url(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not re.match(r"^https?://\S+$", value):
            raise problem(f"not an index URL: {value!r}", "e.g. https://pypi.example.com/simple")
        return value

    @field_validator("wheelhouse_python", mode="before")
    @classmethod
    def _wheelhouse_python(cls, value: object) -> list[str]:
        items = value if isinstance(value, list) else [value]
        texts = [str(item) for item in items]
        bad = [text for text in texts if not _PYTHON_VERSION.match(text)]
        if not items or bad:
            raise problem(
                f"not Python versions: {bad or value!r}",
                "the nodes' Python versions as major.minor, e.g. ['3.11', '3.13'] (bookworm and trixie)",
            )
        return texts

    @field_validator("wheelhouse_platform", mode="before")
    @classmethod
    def _platform(cls, value: object) -> str:
        if value not in ("x86_64", "aarch64"):
            raise problem(f"not a platform: {value!r}", "x86_64 or aarch64 (the nodes' architecture)")
        return value


class CondaSettings(Section):
    """Where conda comes from on the node and which channels it may use."""

    installer: str = DEFAULT_CONDA_INSTALLER
    installer_sha256: str | None = None
    channels: list[str] | None = None
    channel_alias: str | None = None

    @field_validator("installer", mode="before")
    @classmethod
    def _installer(cls, value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str) or not value.strip():
            raise problem(
                f"not an installer: {value!r}",
                "a URL (https://.../Miniforge3-Linux-{arch}.sh, or micromamba) or a file on this machine",
            )
        if re.match(r"^https?://", value):
            return value
        if "://" in value:
            raise problem(f"only http(s) URLs or local files: {value!r}", "download it and give the file")
        path = (base_dir(info) / Path(value).expanduser()).resolve()
        if not path.is_file():
            raise problem(
                f"no such installer file: {value}",
                f"paths are relative to {base_dir(info)}; a URL must start with https://",
            )
        return str(path)

    @field_validator("installer_sha256", mode="before")
    @classmethod
    def _sha256(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _SHA256.match(value.lower()):
            raise problem(f"not a sha256: {value!r}", "64 hex digits, as `sha256sum` prints them")
        return value.lower()

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, value: object) -> list[str] | None:
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(c, str) and c.strip() for c in value)
        ):
            raise problem(
                f"must be a list of channel names or URLs, got {value!r}",
                "e.g. [conda-forge] or [https://mirror.example.com/conda-forge]",
            )
        return value

    @field_validator("channel_alias", mode="before")
    @classmethod
    def _alias(cls, value: object) -> str | None:
        if value is None or (isinstance(value, str) and re.match(r"^https?://\S+$", value)):
            return value
        raise problem(f"not a URL: {value!r}", "e.g. https://mirror.example.com/conda")

    @property
    def installer_is_url(self) -> bool:
        return bool(re.match(r"^https?://", self.installer))

    @property
    def installer_kind(self) -> str:
        """`micromamba` (a single binary, or its .tar.bz2) or `shell` (Miniforge/Miniconda's .sh)."""
        name = self.installer.rstrip("/").rsplit("/", 1)[-1].lower()
        return (
            "micromamba" if "micromamba" in self.installer.lower() and not name.endswith(".sh") else "shell"
        )


class NodeRuntime(Section):
    """Settings of the venv and conda runtimes (ignored by docker)."""

    user: str = "fleetdeploy"
    venv: VenvSettings = VenvSettings()
    conda: CondaSettings = CondaSettings()

    @field_validator("user", mode="before")
    @classmethod
    def _user(cls, value: object) -> str:
        if value == "root":
            raise problem(
                "the service must not run as root", "keep the default `fleetdeploy` or name another user"
            )
        if not isinstance(value, str) or not _USER_NAME.match(value):
            raise problem(
                f"not a user name: {value!r}", "lowercase letters, digits, '_' and '-', e.g. fleetdeploy"
            )
        return value


def check_runtime(value: object) -> str:
    """The `runtime` value, or an issue listing the runtimes there are."""
    if value in RUNTIMES:
        return value
    raise problem(f"unknown runtime {value!r}", "one of " + ", ".join(RUNTIMES))


def conda_match_spec(dep: str) -> tuple[str, str]:
    """'conda-forge::numpy>=1.2' -> ('numpy', '>=1.2'); 'python=3.8' -> ('python', '=3.8')."""
    dep = dep.split("::")[-1].strip()
    match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", dep)
    if not match:
        return dep, ""
    return match.group(1).lower(), match.group(2).replace(" ", "")


def python_specifier(spec: str) -> SpecifierSet | None:
    """Conda's python pin (`=3.8`, `3.8.*`, `>=3.10,<3.12`) as a PEP 440 specifier; None when unpinned
    or unreadable (conda itself reports the unreadable ones)."""
    if not spec:
        return None
    if re.fullmatch(r"=?[0-9][0-9.]*\*?(=\S+)?", spec):  # `=3.8`, `3.8` and `=3.8.5=build`
        version = spec.lstrip("=").split("=")[0].rstrip("*").rstrip(".")
        spec = f"=={version}.*" if version.count(".") < 2 else f"=={version}"
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier:
        return None


def server_pythons() -> list[str]:
    """The Python releases (major.minor) fleetdeploy's server runs on, newest last."""
    major, minor = SERVER_MIN_PYTHON
    return [f"{major}.{m}" for m in range(minor, minor + 9)]


def conda_python_pin(content: dict[str, Any] | None) -> tuple[int, str, SpecifierSet] | None:
    """(index in dependencies, the dependency as written, its specifier) of a conda file's python pin."""
    for index, item in enumerate((content or {}).get("dependencies") or []):
        if isinstance(item, str):
            name, spec = conda_match_spec(item)
            specifier = python_specifier(spec) if name == "python" else None
            if specifier is not None:
                return index, item, specifier
    return None


def allowed_pythons(content: dict[str, Any] | None) -> list[str]:
    """The Python releases (major.minor) both the conda file's pin and the server accept. A release is
    allowed when any of its patch versions is: the node's exact patch level is its own business."""
    pin = conda_python_pin(content)
    if pin is None:
        return server_pythons()
    specifier = pin[2]
    return [
        release
        for release in server_pythons()
        if any(specifier.contains(f"{release}.{patch}") for patch in range(40))
    ]


def environment_issues(
    runtime: str, content: dict[str, Any] | None, filename: str = "the conda file"
) -> list[tuple[tuple, str, str | None]]:
    """What a conda file asks that this runtime cannot give, as (location in the spec, problem, hint)."""
    if runtime not in NATIVE_RUNTIMES or content is None:
        return []
    found = []
    pin = conda_python_pin(content)
    if pin is not None and not allowed_pythons(content):
        index, item, _ = pin
        least = ".".join(map(str, SERVER_MIN_PYTHON))
        message = (
            f"{filename}: dependencies[{index}]: {item!r} excludes Python {least} and newer, "
            f"which fleetdeploy's scoring server needs (runtime {runtime})"
        )
        found.append((("environment", "conda"), message, f"pin python={least} or newer"))
    if runtime == "venv":
        conda_only = [
            item
            for item in content.get("dependencies") or []
            if isinstance(item, str) and conda_match_spec(item)[0] not in _VENV_PROVIDED
        ]
        if conda_only:
            found.append(
                (
                    ("runtime",),
                    f"venv cannot install conda packages {', '.join(conda_only)} (from {filename})",
                    "use `runtime: conda`, or move them to the conda file's pip: list if they are on PyPI",
                )
            )
    return found
