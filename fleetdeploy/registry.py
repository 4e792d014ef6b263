"""The model registry: a workspace folder on this machine where models get names and versions, as
Azure ML's `Model.register` gives them, with no cloud.

    <workspace>/workspace.json                      {"schema": 1}
    <workspace>/blobs/sha256/<2 hex>/<64 hex>       each distinct file once (content-addressed, read-only)
    <workspace>/models/<name>/<version>/model.json  the record: files and their sha256, tags, properties
    <workspace>/models/<name>/<version>/<basename>  the file or folder as registered (hard links to blobs)

Versions count up per name from 1 and never change once written (files read-only; only tags change).
A spec's `models:` entry can name a registered model instead of a path; it then ships exactly the
registered files. A pickle is scanned when registered (fleetdeploy/pickle_scan.py): a file that imports
something outside the safe list is refused unless `trust` is given, and the findings are kept as the
version's properties.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.paths import data_home
from fleetdeploy.pickle_scan import PickleReport, runs_code, scan_paths

SCHEMA = 1
CONFIG_NAMES = ("fleetdeploy-workspace.json", ".azureml/config.json", "config.json")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def default_workspace() -> Path:
    return data_home() / "workspace"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: int
    path: Path  # the registered file or folder inside the workspace (what a spec ships)
    created: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)  # {"path", "sha256", "size"}, relative to `path`'s parent

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    def as_json(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


class Workspace:
    """A registry folder. `Workspace(path)` opens it; `Workspace.from_config()` finds it. Opening writes
    nothing (a spec that names registered models is read without touching the disk): the folder is made
    by the first registration."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_workspace()

    @classmethod
    def from_config(cls, path: Path | str | None = None, start: Path | None = None) -> Workspace:
        """As Azure's from_config: `path` (a config file or a folder holding one), else the first of
        CONFIG_NAMES found from `start` (the working directory) upward; its `workspace_dir` (relative to
        the file) names the folder. No config: the default workspace in fleetdeploy's data home."""
        found = _find_config(Path(path) if path is not None else None, start or Path.cwd())
        if found is None:
            if path is not None:
                raise ConfigError(f"workspace config {path}: not found (looked for {', '.join(CONFIG_NAMES)})")
            return cls()
        try:
            config = json.loads(found.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"workspace config {found}: not readable JSON ({exc})") from None
        folder = config.get("workspace_dir") if isinstance(config, dict) else None
        if not isinstance(folder, str) or not folder:
            raise ConfigError(
                f'workspace config {found}: no "workspace_dir" (the registry folder, relative to this file); '
                'e.g. {"workspace_dir": ".fleetdeploy-workspace"}'
            )
        return cls((found.parent / folder).resolve())

    # -- models ------------------------------------------------------------------------------------

    def register(self, model_path: Path | str, name: str, *, tags: dict | None = None, properties: dict | None = None,
                 description: str = "", trust: bool = False) -> RegisteredModel:
        """A new version of `name` holding a copy of `model_path` (a file or a folder)."""
        source = Path(model_path)
        if not source.exists():
            raise ConfigError(f"model_path {source}: no such file or folder")
        _check_name(name)
        reports = scan_paths([source])
        refused = [report for report in reports if report.unsafe and not trust]
        if refused:
            raise ConfigError(unsafe_message(refused, "register it anyway with trust=True (CLI: --trust)"))
        with self._lock():
            marker = self.path / "workspace.json"
            if not marker.exists():
                marker.write_text(json.dumps({"schema": SCHEMA}) + "\n")
            version = max(self.versions(name), default=0) + 1
            folder = self._model_dir(name, version)
            staging = folder.with_name(f".{version}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            files = self._store(source, staging)
            record = RegisteredModel(
                name=name, version=version, path=folder / source.name, description=description,
                created=datetime.now(UTC).isoformat(timespec="seconds"), tags=_strings(tags or {}, "tags"),
                properties={**_scan_properties(reports, source), **(properties or {})}, files=files,
            )
            _write_record(staging, record)
            staging.rename(folder)
        return record

    def get(self, name: str, version: int | str | None = None, *, tag: str | None = None) -> RegisteredModel:
        """One version: `version`, else the latest one carrying `tag` ("key" or "key=value"), else the latest."""
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none yet"
            raise ConfigError(f"no registered model named {name!r} in {self.path} (registered: {known})")
        if version is not None and str(version) != "latest":
            if not str(version).isdigit() or int(version) not in versions:
                raise ConfigError(f"model {name} has no version {version} (versions: "
                                  f"{', '.join(map(str, versions))})")
            return self._read(name, int(version))
        candidates = [self._read(name, number) for number in reversed(versions)]
        if tag is not None:
            candidates = [model for model in candidates if _has_tag(model, tag)]
            if not candidates:
                raise ConfigError(f"no version of model {name} has tag {tag!r}")
        return candidates[0]

    def list(self, name: str | None = None, tags: list[str] | None = None) -> list[RegisteredModel]:
        found = [self._read(each, number) for each in ([name] if name else self.names())
                 for number in self.versions(each)]
        return [model for model in found if all(_has_tag(model, tag) for tag in tags or [])]

    def names(self) -> list[str]:
        models = self.path / "models"
        return sorted(p.name for p in models.iterdir() if p.is_dir()) if models.is_dir() else []

    def versions(self, name: str) -> list[int]:
        folder = self.path / "models" / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / "model.json").exists())

    def tag(self, name: str, version: int | str, *, add: dict | None = None, remove: list[str] = ()) -> RegisteredModel:
        """Tags are the one thing a version lets change (as Azure's add_tags / remove_tags)."""
        with self._lock():
            model = self.get(name, version)
            tags = {key: value for key, value in model.tags.items() if key not in remove}
            tags.update(_strings(add or {}, "tags"))
            updated = RegisteredModel(**{**asdict(model), "path": model.path, "tags": tags})
            _write_record(self._model_dir(name, model.version), updated)
        return updated

    def download(self, name: str, version: int | str | None, target_dir: Path | str, *, exist_ok: bool = False) -> Path:
        """A writable copy of the version's file or folder in `target_dir`; returns its path."""
        model = self.get(name, version)
        target = Path(target_dir) / model.path.name
        if target.exists() and not exist_ok:
            raise ConfigError(f"{target} exists; pass exist_ok=True (CLI: --exist-ok) to replace it")
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        if model.path.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(model.path, target, copy_function=_writable_copy)
        else:
            _writable_copy(model.path, target)
        return target

    # -- storage -----------------------------------------------------------------------------------

    def _model_dir(self, name: str, version: int) -> Path:
        return self.path / "models" / name / str(version)

    def _read(self, name: str, version: int) -> RegisteredModel:
        folder = self._model_dir(name, version)
        data = json.loads((folder / "model.json").read_text())
        return RegisteredModel(**{**data, "path": folder / data["path"]})

    def _store(self, source: Path, staging: Path) -> list[dict]:
        files = []
        sources = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for file in sources:
            relative = file.relative_to(source.parent)
            digest, size = _hash(file)
            blob = self.path / "blobs" / "sha256" / digest[:2] / digest
            if not blob.exists():
                blob.parent.mkdir(parents=True, exist_ok=True)
                partial = blob.with_name(f".{digest}.partial")
                shutil.copyfile(file, partial)
                partial.chmod(0o444)
                partial.rename(blob)
            placed = staging / relative
            placed.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(blob, placed)
            except OSError:  # another filesystem, or links refused: a read-only copy
                shutil.copyfile(blob, placed)
                placed.chmod(0o444)
            files.append({"path": relative.as_posix(), "sha256": digest, "size": size})
        if source.is_dir() and not sources:
            (staging / source.name).mkdir()
        return files

    def _lock(self):
        return _FolderLock(self.path / ".lock")


def unsafe_line(report: PickleReport) -> str:
    """What a file would import when loaded that is not on the safe list, and how bad that is."""
    worst = [name for name in report.unsafe if runs_code(name)]
    kind = "runs code or reaches the system" if worst else "outside the known-safe list"
    return f"{report.path}: loading it would import {', '.join(report.unsafe)} ({kind})"


def unsafe_message(reports: list[PickleReport], override: str) -> str:
    return ("a model file would run code it names when loaded (read without loading it):\n  "
            + "\n  ".join(map(unsafe_line, reports)) + f"\nIf you trust where it comes from, {override}.")


def _scan_properties(reports: list[PickleReport], source: Path) -> dict:
    found = {}
    for report in reports:
        relative = Path(report.path).relative_to(source.parent).as_posix()
        found[relative] = report.as_properties()
    versions = sorted({version for report in reports for version in report.sklearn_versions})
    properties = {"pickle_scan": found} if found else {}
    if versions:
        properties["sklearn_version"] = ", ".join(versions)
    return properties


def _find_config(given: Path | None, start: Path) -> Path | None:
    if given is not None:
        if given.is_file():
            return given
        candidates = [given / name for name in CONFIG_NAMES]
        return next((c for c in candidates if c.is_file()), None)
    for folder in (start.resolve(), *start.resolve().parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file() and (name != "config.json" or _is_ours(candidate)):
                return candidate
    return None


def _is_ours(path: Path) -> bool:
    # A bare config.json (Azure's name) counts only when it names a workspace folder: plenty of
    # projects have a config.json of their own.
    try:
        return "workspace_dir" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def _check_name(name: str) -> None:
    if not name or not set(name) <= _NAME_CHARS or name in (".", "..") or len(name) > 255:
        raise ConfigError(f"model_name {name!r}: use letters, digits, '.', '_' and '-' (it becomes a folder name)")


def _strings(values: dict, what: str) -> dict[str, str]:
    if not isinstance(values, dict):
        raise ConfigError(f"{what}: a mapping of names to values, got {type(values).__name__}")
    return {str(key): str(value) for key, value in values.items()}


def _has_tag(model: RegisteredModel, tag: str) -> bool:
    key, equals, value = tag.partition("=")
    return key in model.tags and (not equals or model.tags[key] == value)


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_record(folder: Path, model: RegisteredModel) -> None:
    # The path is kept relative (its name): a workspace folder may be moved or shared.
    partial = folder / ".model.json.partial"
    partial.write_text(json.dumps({**model.as_json(), "path": model.path.name}, indent=2) + "\n")
    partial.rename(folder / "model.json")


def _writable_copy(source, target) -> None:
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)


class _FolderLock:
    """One registration or tag change at a time per workspace (versions must not collide)."""

    def __init__(self, path: Path):
        self._path = path
        self._file = None

    def __enter__(self):
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._path, "w")  # held until __exit__
        fcntl.flock(self._file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
