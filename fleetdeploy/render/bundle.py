"""A rendered project that carries what it ships, so it runs the same wherever it is copied: to another
machine, or into the repository an AWX project syncs.

The role variables name each controller file that ships to the nodes as a Path (the image tarball, the
models, the code archive, a venv's files and wheelhouse...: fleetdeploy.runtimes). `bundle` links or
copies each one under project/files/, names it there by a path relative to project/ (the roles resolve
such a path against the project: `playbook_dir | dirname`), and lists every bundled file's sha256 in
project/files/SHA256SUMS, which `sha256sum -c` checks. The secrets' file is never bundled: a folder
that may be committed or synced must not hold their values.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path, PurePosixPath

FILES = "files"
MANIFEST = "SHA256SUMS"
NEVER_BUNDLED = frozenset({"fleet_artifacts_secrets_src"})


def bundle(variables: dict, project_dir: Path, *, origin: Path) -> dict:
    """The variables with every Path value replaced by its copy's path relative to `project_dir`.
    `origin` is the folder the run staged its files in: a file under it keeps its place below files/
    (staged/models/<name>/<version>), others go by their name."""
    files_dir = project_dir / FILES
    files_dir.mkdir(parents=True, exist_ok=True)
    placed: dict[Path, str] = {}

    def place(source: Path) -> str:
        source = source.resolve()
        if source not in placed:
            try:
                name = source.relative_to(origin.resolve())
            except ValueError:
                name = Path(source.name)
            target = files_dir / name
            _link_or_copy(source, target)
            placed[source] = str(PurePosixPath(FILES, *name.parts))
        return placed[source]

    def walk(value, key: str = ""):
        if key in NEVER_BUNDLED:
            return ""
        if isinstance(value, Path):
            return place(value)
        if isinstance(value, dict):
            return {name: walk(item, name) for name, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item) for item in value]
        return value

    bundled = walk(variables)
    write_manifest(files_dir)
    return bundled


def write_manifest(files_dir: Path) -> Path:
    """`<sha256>  <path>` for every file below files_dir, paths relative to its parent (project/): the
    format `sha256sum -c` reads, run from the project folder."""
    lines = []
    for path in sorted(p for p in files_dir.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with open(path, "rb") as data:
            for chunk in iter(lambda: data.read(1 << 20), b""):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {path.relative_to(files_dir.parent).as_posix()}")
    manifest = files_dir / MANIFEST
    manifest.write_text("".join(line + "\n" for line in lines))
    return manifest


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the filesystem allows (an image tarball is hundreds of MB), else a copy."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_file, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_file(source, target)


def _link_file(source, target) -> None:
    if os.path.lexists(target):
        os.unlink(target)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
