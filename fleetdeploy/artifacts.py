"""Staging the files a release ships beside its image: models and the entry script's code.

Models and code travel as checksummed files (never inside the image), so a model change ships only
the model and a `score.py` change ships only the code. Everything here is deterministic: the same
inputs give the same hashes on any machine, whatever the order the filesystem lists them in.

Layout written under `out_dir` (it mirrors the node layout in docs/design.md):

    models/<name>/<version>/<basename of the model path>     a file, or a folder and its files
    code/<code_hash>/...                                    source_dir, entry script included
    code/<code_hash>.tar.gz                                 the same, as shipped to the nodes

Hashes are sha256 over the sorted lines "<relative path>  <file sha256>\n". `models_hash` takes the
paths relative to the folder AZUREML_MODEL_DIR names in the container (the model's version folder
for one model, the models folder for several), which makes it the digest the scoring server
reports at GET /version (docs/serve.md): drift detection compares the two as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fleetdeploy.code_selection import shipped_files
from fleetdeploy.digests import file_sha256, listing_digest
from fleetdeploy.errors import ConfigError

# Never part of a shipped model folder: caches and VCS state change without the model changing.
_SKIPPED_DIRS = frozenset({"__pycache__", ".git"})
_SKIPPED_SUFFIXES = (".pyc",)


@dataclass(frozen=True)
class ModelInput:
    """One model as the spec names it; `path` is a file or a folder."""

    name: str
    version: str | int
    path: Path


def folder_bytes(folder: Path, files: Iterable[str]) -> int:
    return sum((folder / name).stat().st_size for name in files)


@dataclass(frozen=True)
class StagedModel:
    name: str
    version: str
    dir: Path  # out_dir/models/<name>/<version>
    files: dict[str, str]  # path relative to `dir` -> sha256

    @property
    def bytes(self) -> int:
        """What the version's files take on a node (the node's free space is checked against it)."""
        return folder_bytes(self.dir, self.files)


@dataclass(frozen=True)
class StagedArtifacts:
    out_dir: Path
    models: tuple[StagedModel, ...]
    code_dir: Path  # out_dir/code/<code_hash>
    entry_script: str  # relative to code_dir, posix
    code_files: dict[str, str] = field(repr=False)  # path relative to code_dir -> sha256
    code_hash: str
    models_hash: str

    @property
    def code_archive(self) -> Path:
        """The code folder as one gzipped tar beside it: nodes get it in one transfer, where copying a
        folder costs Ansible two round-trips per file."""
        return self.code_dir.with_name(f"{self.code_hash}.tar.gz")

    @property
    def code_bytes(self) -> int:
        """What the unpacked code folder takes on a node."""
        return folder_bytes(self.code_dir, self.code_files)

    @property
    def models_dir(self) -> Path:
        return self.out_dir / "models"

    @property
    def model_dir_suffix(self) -> str:
        """AZUREML_MODEL_DIR below the models mount: `<name>/<version>` for one model, '' for several
        (Azure's convention, which entry scripts rely on)."""
        return f"{self.models[0].name}/{self.models[0].version}" if len(self.models) == 1 else ""

    def manifest(self) -> dict:
        """What this release ships, as plain data (for releases/<release>.json and drift checks)."""
        return {
            "code_hash": self.code_hash,
            "entry_script": self.entry_script,
            "code_files": dict(sorted(self.code_files.items())),
            "models_hash": self.models_hash,
            "model_dir_suffix": self.model_dir_suffix,
            "models": [
                {"name": m.name, "version": m.version, "files": dict(sorted(m.files.items()))}
                for m in self.models
            ],
        }


def stage_artifacts(
    models: list[ModelInput] | list[tuple[str, str | int, Path]],
    source_dir: Path,
    entry_script: Path,
    out_dir: Path,
    *,
    exclude: tuple[Path | None, ...] = (),
) -> StagedArtifacts:
    """Lay out models and code under `out_dir` (hardlinks where possible, copies otherwise).

    `entry_script` is relative to `source_dir` (or absolute inside it). The code is what
    fleetdeploy.code_selection ships from `source_dir`; model paths and anything in `exclude` (e.g. the
    spec file) that lie inside it are left out, so that changing them does not change `code_hash`.
    """
    source_dir = Path(source_dir).resolve()
    out_dir = Path(out_dir).resolve()
    model_inputs = [m if isinstance(m, ModelInput) else ModelInput(*m) for m in models]
    _check_inputs(model_inputs, source_dir)
    script = _entry_script_relpath(source_dir, Path(entry_script))

    staged_models = tuple(_stage_model(m, out_dir / "models") for m in model_inputs)
    skip = (
        {Path(m.path).resolve() for m in model_inputs}
        | {Path(p).resolve() for p in exclude if p is not None}
        | {out_dir}
    )
    code_files = {
        path.relative_to(source_dir).as_posix(): file_sha256(path) for path in shipped_files(source_dir, skip)
    }
    if script not in code_files:
        raise ConfigError(
            f"entry_script: {script} is excluded from the code (a model path, the spec or inventory, a built-in "
            "exclude or a pattern in .amlignore / .fleetdeployignore: docs/spec.md, entry_script)"
        )
    code_hash = listing_digest(code_files)
    code_dir = out_dir / "code" / code_hash
    _place_files(source_dir, code_dir, code_files)
    models_hash = listing_digest(_model_dir_files(staged_models))
    staged = StagedArtifacts(out_dir, staged_models, code_dir, script, code_files, code_hash, models_hash)
    _archive_tree(code_dir, code_files, staged.code_archive)
    return staged


def stage_spec_artifacts(spec, out_dir: Path, leave_out: Iterable[Path | None] = ()) -> StagedArtifacts:
    """What a deployment spec ships: its models, and its entry script's source_dir less the spec file
    and `leave_out` (the inventory the command was given), as fleetdeploy.code_selection decides."""
    return stage_artifacts(
        [ModelInput(m.name, m.version, m.path) for m in spec.models],
        spec.entry_script.source_dir,
        spec.entry_script.path,
        out_dir,
        # The keys file (endpoint.auth: key) is never code, with auth on or off: a secret, and a new key
        # must not change the release.
        # The model registry (spec.workspace) is not code either, when it lies in the source folder.
        exclude=(spec.source, spec.keys_location, spec.workspace, *leave_out),
    )


def release_id(image_id: str, staged: StagedArtifacts, settings: dict) -> str:
    """The release identity of docs/design.md: 12 hex over image, models, code and container settings."""
    payload = json.dumps(
        {"image": image_id, "models": staged.models_hash, "code": staged.code_hash, "settings": settings},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _check_inputs(models: list[ModelInput], source_dir: Path) -> None:
    if not source_dir.is_dir():
        raise ConfigError(f"entry_script.source_dir: {source_dir} is not a folder")
    if not models:
        raise ConfigError("models: at least one model is needed")
    seen: set[tuple[str, str]] = set()
    for index, model in enumerate(models):
        where = f"models[{index}] ({model.name})"
        key = (model.name, str(model.version))
        if key in seen:
            raise ConfigError(f"{where}: version {model.version} is listed twice")
        seen.add(key)
        path = Path(model.path)
        if not path.exists():
            raise ConfigError(f"{where}.path: {path} does not exist")
        if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
            raise ConfigError(f"{where}.path: folder {path} holds no files")


def _entry_script_relpath(source_dir: Path, entry_script: Path) -> str:
    script = entry_script if entry_script.is_absolute() else source_dir / entry_script
    script = script.resolve()
    if not script.is_relative_to(source_dir):
        raise ConfigError(f"entry_script.path: {entry_script} is not inside source_dir {source_dir}")
    if not script.is_file():
        raise ConfigError(f"entry_script.path: {script} does not exist")
    return script.relative_to(source_dir).as_posix()


def _stage_model(model: ModelInput, models_root: Path) -> StagedModel:
    # Azure keeps the registered file or folder's own name under <name>/<version>/, and entry scripts
    # join that name onto AZUREML_MODEL_DIR; keeping it makes those scripts run unmodified.
    source = Path(model.path).resolve()
    version_dir = models_root / model.name / str(model.version)
    if version_dir.exists():
        shutil.rmtree(version_dir)  # left from an earlier staging into the same folder
    if source.is_file():
        files = {source.name: file_sha256(source)}
        _place_files(source.parent, version_dir, files)
    else:
        inner = _hash_model_tree(source)
        files = {f"{source.name}/{rel}": sha for rel, sha in inner.items()}
        _place_files(source, version_dir / source.name, inner)
    return StagedModel(model.name, str(model.version), version_dir, files)


def _hash_model_tree(root: Path) -> dict[str, str]:
    """sha256 of every regular file under a model folder (relative posix path -> hex)."""
    files: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for name in sorted(filenames):
            path = here / name
            if name.endswith(_SKIPPED_SUFFIXES) or not path.is_file():
                continue
            files[path.relative_to(root).as_posix()] = file_sha256(path)
    return files


def _place_files(src_root: Path, dest_root: Path, files: dict[str, str]) -> None:
    """Make dest_root hold exactly `files` from src_root: hardlink when on one filesystem, else copy."""
    if dest_root.exists():
        shutil.rmtree(dest_root)
    for rel in files:
        src, dest = src_root / rel, dest_root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src.resolve(), dest)
        except OSError:
            shutil.copy2(src, dest)


def _archive_tree(root: Path, files: dict[str, str], archive: Path) -> None:
    """`files` under `root` as a gzipped tar, owned by root, folders 0755 and files 0644 (0755 when
    executable), so the tree unpacks on a node as the copy it replaces did."""
    folders = sorted({parent.as_posix() for rel in files for parent in Path(rel).parents if parent != Path(".")})

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
        return info

    with tarfile.open(archive, "w:gz") as tar:
        for rel in [*folders, *sorted(files)]:
            tar.add(root / rel, arcname=rel, recursive=False, filter=owned_by_root)


def _model_dir_files(models: tuple[StagedModel, ...]) -> dict[str, str]:
    if len(models) == 1:
        return dict(models[0].files)
    return {f"{m.name}/{m.version}/{rel}": sha for m in models for rel, sha in m.files.items()}
