"""What is being served, for GET /version: hashes of the model files, the entry script and the Python
environment. Rollouts check that a node serves the release they shipped; drift detection compares
these hashes with the release record on the node. The digests are defined in docs/serve.md."""

import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path

from fleetdeploy import __version__
from fleetdeploy.digests import file_sha256, listing_digest
from fleetdeploy.serve.settings import Settings


def describe(settings: Settings) -> dict:
    return {
        "service": settings.service,
        "release": settings.release,
        "entry_script": {
            "path": _relative(settings.entry_script, settings.app_root),
            "sha256": file_sha256(settings.entry_script),
        },
        "models": models_identity(settings.model_dir),
        "environment": environment_identity(),
        "server": {"fleetdeploy": __version__},
    }


def models_identity(model_dir: Path | None) -> dict:
    """Every file under the model directory by relative path, and one digest over all of them:
    sha256 of the sorted lines "<relative path>  <file sha256>\\n"."""
    if model_dir is None:
        return {"dir": None, "sha256": None, "files": {}}
    files = {_relative(path, model_dir): file_sha256(path) for path in _files_under(model_dir)}
    return {"dir": str(model_dir), "sha256": listing_digest(files), "files": files}


def environment_identity() -> dict:
    """The Python version and installed distributions: sha256 of the sorted lines "name==version\\n"."""
    packages = sorted(
        {f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in importlib.metadata.distributions()}
    )
    listing = f"python=={platform.python_version()}\n" + "".join(f"{p}\n" for p in packages)
    return {
        "python": platform.python_version(),
        "packages": len(packages),
        "sha256": hashlib.sha256(listing.encode()).hexdigest(),
    }


def list_model_dir(model_dir: Path | None, limit: int = 200) -> str:
    """A readable listing for the log when init() fails (what was actually there to load)."""
    if model_dir is None:
        return "AZUREML_MODEL_DIR is not set (no --model-dir given)"
    if not model_dir.is_dir():
        return f"{model_dir} does not exist"
    lines = [f"contents of AZUREML_MODEL_DIR={model_dir}:"]
    for count, path in enumerate(_files_under(model_dir)):
        if count == limit:
            lines.append(f"  ... (more than {limit} files)")
            break
        lines.append(f"  {_relative(path, model_dir)}  ({path.stat().st_size} bytes)")
    if len(lines) == 1:
        lines.append("  (empty)")
    return "\n".join(lines)


def _files_under(root: Path):
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            yield Path(folder) / name


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
