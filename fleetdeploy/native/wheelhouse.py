"""A wheelhouse for air-gapped venv nodes: every wheel the environment needs, downloaded on the
controller with `pip download` for the nodes' Python versions and platform, so nodes install with
`--no-index` and never reach a package index.

Wheels only (`--only-binary=:all:`): a source distribution would need a compiler and build
dependencies on the node. Cached under the hash of its inputs, so an unchanged environment is never
downloaded twice."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fleetdeploy.errors import EnvironmentProblem

# glibc-based manylinux tags up to the oldest glibc of the Debian and EL releases fleetdeploy supports
# (EL9: 2.34); pip matches a wheel whose tag is any of these.
_GLIBC_MINORS = range(5, 35)


def platform_tags(arch: str) -> list[str]:
    legacy = ["manylinux1", "manylinux2010", "manylinux2014"] if arch == "x86_64" else ["manylinux2014"]
    return [f"{tag}_{arch}" for tag in legacy] + [f"manylinux_2_{minor}_{arch}" for minor in _GLIBC_MINORS]


def download_command(
    requirements: Path, dest: Path, python: str, arch: str, index_url: str | None
) -> list[str]:
    """`pip download` of `requirements` as wheels for CPython `python` (major.minor) on Linux `arch`."""
    nodot = python.replace(".", "")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    command += ["--only-binary=:all:", "--dest", str(dest), "--requirement", str(requirements)]
    command += ["--python-version", python, "--implementation", "cp", "--abi", f"cp{nodot}", "--abi", "abi3"]
    command += ["--abi", "none"]
    for tag in platform_tags(arch):
        command += ["--platform", tag]
    if index_url:
        command += ["--index-url", index_url]
    return command


def wheelhouse_key(lines: list[str], pythons: list[str], arch: str, index_url: str | None) -> str:
    payload = {"lines": lines, "pythons": pythons, "arch": arch, "index": index_url}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def build_wheelhouse(
    lines: list[str], cache_dir: Path, *, pythons: list[str], arch: str, index_url: str | None = None
) -> Path:
    """The folder of wheels for `lines` (pip requirement lines), downloaded once per distinct input."""
    out = Path(cache_dir) / "wheelhouses" / wheelhouse_key(lines, pythons, arch, index_url)
    if (out / ".complete").is_file():
        return out
    with tempfile.TemporaryDirectory(prefix="fleetdeploy-wheelhouse-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{line}\n" for line in lines))
        wheels = Path(tmp) / "wheels"
        for python in pythons:
            proc = subprocess.run(
                download_command(requirements, wheels, python, arch, index_url),
                check=False,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
                raise EnvironmentProblem(
                    f"node_runtime.venv.wheelhouse: downloading wheels for Python {python} on {arch} failed "
                    f"(a package without a wheel for that Python needs a compiler on the node; pin a version "
                    f"that has one, or turn the wheelhouse off):\n{tail}"
                )
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(wheels), out)
    # Written last: a folder with the marker is a complete wheelhouse.
    (out / ".complete").write_text("\n".join(lines) + "\n")
    return out
