"""`fleetdeploy env export`: what a spec's environment resolves to, as files a user can build from
themselves (Azure's `Environment.save_to_directory()` does the same): the resolved conda file, the pip
requirement lines, the scoring server's wheel and requirements, and a Dockerfile doing what
fleetdeploy's image build does."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from fleetdeploy.image.server_wheel import build_server_wheel
from fleetdeploy.native.environment import resolve_conda_file, server_requirements
from fleetdeploy.paths import cache_home
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.node_runtime import conda_match_spec

CONDA_FILE = "conda_dependencies.yml"
# Conda dependencies a python base image has already.
_IN_BASE = frozenset({"python", "pip"})


@dataclass(frozen=True)
class Exported:
    out_dir: Path
    files: tuple[str, ...]
    notices: tuple[str, ...]


def export_environment(spec: Spec, out_dir: Path) -> Exported:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    server = server_requirements()
    conda, requirements, notices = resolve_conda_file(spec, server)
    wheel = build_server_wheel(cache_home())
    conda_only = [
        item
        for item in conda["dependencies"]
        if isinstance(item, str) and conda_match_spec(item)[0] not in _IN_BASE
    ]
    files = {
        CONDA_FILE: _conda_text(spec, conda),
        "requirements.txt": "".join(f"{line}\n" for line in requirements),
        "server-requirements.txt": "".join(f"{line}\n" for line in server),
        "Dockerfile": render_dockerfile(spec, wheel.path.name, conda_only),
        "environment.json": json.dumps(
            {
                "service": spec.service,
                "runtime": spec.runtime,
                "source": str(spec.environment.file),
                "base_image": spec.environment.base_image,
                "conda_packages": conda_only,
                "server_wheel": wheel.path.name,
            },
            indent=2,
        )
        + "\n",
    }
    for name, text in files.items():
        (out_dir / name).write_text(text)
    shutil.copyfile(wheel.path, out_dir / wheel.path.name)
    return Exported(out_dir, (*files, wheel.path.name), notices)


def render_dockerfile(spec: Spec, wheel: str, conda_only: list[str]) -> str:
    template = resources.files("fleetdeploy.native").joinpath("templates", "export.Dockerfile.j2").read_text()
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, autoescape=False
    )
    model_dir = spec.model_dir_relative().removeprefix("azureml-models").strip("/") or "."
    return environment.from_string(template).render(
        service=spec.service,
        base_image=spec.environment.base_image,
        wheel=wheel,
        conda_only=conda_only,
        entry_script=spec.entry_script.relative_path,
        model_dir_hint=model_dir,
    )


def _conda_text(spec: Spec, conda: dict) -> str:
    import yaml

    head = (
        f"# The environment of service {spec.service}, resolved by fleetdeploy from {spec.environment.file.name}:\n"
        "# the packages it asks for plus fleetdeploy's scoring server requirements (its wheel is beside this file).\n"
        f"#   conda env create --file {CONDA_FILE} --prefix ./env\n"
        "#   ./env/bin/pip install --no-deps fleetdeploy-*.whl\n"
    )
    return head + yaml.safe_dump(conda, sort_keys=False, default_flow_style=False)
