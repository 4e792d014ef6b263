"""A wheel holding only fleetdeploy's scoring server, installed into scoring images with `--no-deps`.

Only the files `fleetdeploy serve` runs are in it (the server package, the CLI entry point and the
shared errors), with a small generated pyproject.toml: the server never pulls the controller's
dependencies (Ansible, Docker SDK...), and a change to controller code does not make a new scoring
image, hence no new release on every node. The wheel is built from a copy in a temporary folder
(never inside the checkout) and cached under the hash of those files, so unchanged sources give the
same wheel and the same image layer whatever the wheel's own timestamps."""

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
from fleetdeploy.image.templating import render_template

PACKAGE_DIR = Path(fleetdeploy.__file__).resolve().parent
SERVE_REQUIREMENTS = PACKAGE_DIR / "serve" / "requirements.txt"
# What `fleetdeploy serve` imports, relative to the package; checked at build time by running
# `fleetdeploy --version` inside the image.
_SERVER_FILES = (
    "__init__.py",
    "__main__.py",
    "errors.py",
    "digests.py",
    "cli/__init__.py",
    "cli/serve_cmd.py",
)
_SERVER_DIRS = ("serve",)


@dataclass(frozen=True)
class ServerWheel:
    path: Path
    source_hash: str


def server_source_files() -> dict[str, Path]:
    """Wheel path (`fleetdeploy/...`) -> file, sorted, caches left out."""
    files = {name: PACKAGE_DIR / name for name in _SERVER_FILES}
    for folder in _SERVER_DIRS:
        for path in (PACKAGE_DIR / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[path.relative_to(PACKAGE_DIR).as_posix()] = path
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise EnvironmentProblem(f"fleetdeploy at {PACKAGE_DIR} is incomplete: missing {', '.join(missing)}")
    return {f"fleetdeploy/{name}": files[name] for name in sorted(files)}


def server_pyproject() -> str:
    requirements = [
        line.strip()
        for line in SERVE_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return render_template(
        "server-pyproject.toml.j2", version=fleetdeploy.__version__, requirements=requirements
    )


def server_source_hash() -> str:
    digest = hashlib.sha256(server_pyproject().encode())
    for name, path in server_source_files().items():
        digest.update(name.encode() + b"\0")
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
        for name, path in server_source_files().items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
        (src / "pyproject.toml").write_text(server_pyproject())
        built = Path(tmp) / "dist"
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(built), str(src)]
        proc = subprocess.run(command, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise EnvironmentProblem(f"building the fleetdeploy server wheel failed:\n{tail}")
        wheel = next(built.glob("fleetdeploy-*.whl"))
        out.mkdir(parents=True, exist_ok=True)
        # Moved in last: a wheel in `out` is always a complete one.
        shutil.move(str(wheel), out / wheel.name)
    return ServerWheel(out / wheel.name, source_hash)
