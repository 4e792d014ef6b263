"""Which files of `entry_script.source_dir` ship to the nodes.

A project folder holds more than the code a scoring service needs: a virtualenv, a `.env` with the
developer's passwords, the git history, notebooks' checkpoints, the spec and the inventory. None of
that may leave the controller unless the user asks for it. So:

- built-in excludes (gitignore syntax): `.git/`, `.venv/`, `venv/`, `__pycache__/`, `*.pyc`, `.env*`,
  `.ipynb_checkpoints/`; and the ignore files themselves;
- `.amlignore` (what Azure ML users already have) and then `.fleetdeployignore`, both at the top of
  source_dir and in gitignore syntax (a later `!pattern` ships a file again), read with pathspec;
- paths the command names (the spec file, inventory files and folders, model paths) are left out;
- a symlink whose target lies outside source_dir is refused, naming the link: following it would ship
  whatever it points at (`/etc`, a home folder) without anyone having chosen to.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pathspec

from fleetdeploy.errors import ConfigError

IGNORE_FILES = (".amlignore", ".fleetdeployignore")
BUILT_IN_EXCLUDES = (
    ".git/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.pyc",
    ".env*",
    ".ipynb_checkpoints/",
    *IGNORE_FILES,
)


def ignore_spec(source_dir: Path) -> pathspec.GitIgnoreSpec:
    """The built-in excludes followed by the ignore files' lines, in that order (later lines win)."""
    lines = list(BUILT_IN_EXCLUDES)
    for name in IGNORE_FILES:
        path = source_dir / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except ValueError as exc:  # pathspec's pattern errors are ValueErrors
                raise ConfigError(f"{path}:{number}: {line!r} is not a gitignore pattern ({exc})") from exc
            lines.append(line)
    return pathspec.GitIgnoreSpec.from_lines(lines)


def shipped_files(source_dir: Path, leave_out: Iterable[Path] = ()) -> list[Path]:
    """The files under `source_dir` that ship, sorted by relative path; `leave_out` are absolute paths
    (files or folders) that never ship."""
    root = Path(source_dir).resolve()
    spec = ignore_spec(root)
    skip = {Path(p).resolve() for p in leave_out}
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if spec.match_file(f"{rel}/") or path.resolve() in skip:
                continue
            _refuse_escaping_link(path, root)
            kept.append(name)
        dirnames[:] = kept  # os.walk does not descend into symlinked folders; they are checked above
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if spec.match_file(rel) or path.resolve() in skip:
                continue
            _refuse_escaping_link(path, root)
            if path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _refuse_escaping_link(path: Path, root: Path) -> None:
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        raise ConfigError(
            f"entry_script.source_dir: {path} is a symlink to {os.readlink(path)}, outside {root}; "
            f"it would ship that target. Copy what the service needs into {root}, or list the link in "
            f"{root / '.fleetdeployignore'}"
        )


LARGE_CODE_BYTES = 50 * 1024 * 1024


def shipment_report(source_dir: Path, files: Iterable[str], *, every_file: bool = False) -> list[str]:
    """Lines that say what ships from source_dir: a total, every file with its size when asked
    (`apply -v`, `render`), and a warning naming the largest files when the code is over 50 MB."""
    sizes = sorted(((source_dir / rel).stat().st_size, rel) for rel in files)
    total = sum(size for size, _ in sizes)
    lines = [f"code: {len(sizes)} file(s), {_human(total)} from {source_dir}"]
    if every_file:
        lines += [f"  {_human(size):>9}  {rel}" for size, rel in sorted(sizes, key=lambda item: item[1])]
    if total > LARGE_CODE_BYTES:
        largest = ", ".join(f"{rel} ({_human(size)})" for size, rel in sorted(sizes, reverse=True)[:3])
        lines.append(
            f"warning: {_human(total)} of code ships to every node; the largest: {largest}. Models belong "
            f"in `models:`; list what the service does not need in {source_dir / '.fleetdeployignore'}"
        )
    return lines


def _human(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / 1024 / 1024:.1f} MB"
