"""A wheel of this fleetdeploy checkout, installed into scoring images with `--no-deps` so that the
server never pulls the controller's dependencies (Ansible, Docker SDK...).

The wheel is built from a copy of the sources (the checkout is shared and must stay clean) and kept
in the cache under the hash of those sources: unchanged sources give the same wheel and the same
server layer, whatever the wheel's own timestamps."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import fleetdeploy
from fleetdeploy.errors import EnvironmentProblem

PACKAGE_DIR = Path(fleetdeploy.__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
SERVE_REQUIREMENTS = PACKAGE_DIR / "serve" / "requirements.txt"
# Files outside the package that pyproject.toml reads while building.
_PROJECT_FILES = ("pyproject.toml", "README.md")
_PROJECT_DIRS = ("requirements",)


@dataclass(frozen=True)
class ServerWheel:
    path: Path
    source_hash: str


def server_source_files() -> list[Path]:
    """Every file the wheel is built from, sorted, without caches."""
    if not (PROJECT_DIR / "pyproject.toml").is_file():
        raise EnvironmentProblem(
            f"fleetdeploy at {PACKAGE_DIR} is not a source checkout (no pyproject.toml beside it); "
            "scoring images install the server from a checkout: pip install -e <checkout>"
        )
    files = [PROJECT_DIR / name for name in _PROJECT_FILES if (PROJECT_DIR / name).is_file()]
    for folder in (PACKAGE_DIR, *(PROJECT_DIR / d for d in _PROJECT_DIRS)):
        files += [
            p
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return sorted(files)


def server_source_hash() -> str:
    digest = hashlib.sha256()
    for path in server_source_files():
        digest.update(path.relative_to(PROJECT_DIR).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_server_wheel(cache_dir: Path) -> ServerWheel:
    source_hash = server_source_hash()
    out = Path(cache_dir) / "wheels" / source_hash[:16]
    existing = sorted(out.glob("fleetdeploy-*.whl"))
    if existing:
        return ServerWheel(existing[0], source_hash)
    with tempfile.TemporaryDirectory(prefix="fleetdeploy-wheel-") as tmp:
        src = Path(tmp) / "src"
        for path in server_source_files():
            dest = src / path.relative_to(PROJECT_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        built = Path(tmp) / "dist"
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(built), str(src)]
        proc = subprocess.run(command, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise EnvironmentProblem(f"building the fleetdeploy server wheel failed:\n{tail}")
        wheel = next(built.glob("fleetdeploy-*.whl"))
        out.mkdir(parents=True, exist_ok=True)
        # Move in last: a wheel in `out` is always a complete one.
        shutil.move(str(wheel), out / wheel.name)
    return ServerWheel(out / wheel.name, source_hash)
