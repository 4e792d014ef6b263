"""Writing a starting `fleetdeploy.yml` for `fleetdeploy init`: it looks around the folder for an
entry script, model files and an environment file, and fills in what it finds."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from fleetdeploy.errors import ConfigError
from fleetdeploy.spec.entry_script import check_entry_script
from fleetdeploy.spec.loader import DEFAULT_SPEC_NAME
from fleetdeploy.spec.model import DEFAULT_PORT

MODEL_SUFFIXES = (
    ".pkl",
    ".pickle",
    ".joblib",
    ".sav",
    ".onnx",
    ".pt",
    ".pth",
    ".h5",
    ".keras",
    ".safetensors",
)
MODEL_FOLDERS = (".", "model", "models", "outputs")  # outputs/ is where Azure ML runs save models
PIP_FILES = ("requirements.txt",)
CONDA_FILES = ("conda_dependencies.yml", "environment.yml", "conda.yml", "conda.yaml")


@dataclass
class Found:
    """A value for the scaffold; `note` says when it is a placeholder the user must supply."""

    path: str
    note: str | None = None
    kind: str = ""

    @property
    def found(self) -> bool:
        return self.note is None

    @property
    def name(self) -> str:
        return model_name(self.path)


@dataclass
class Scaffold:
    service: str
    entry_script: Found
    models: list[Found]
    environment: Found
    other_models: list[str] = field(default_factory=list)
    port: int = DEFAULT_PORT
    base_image: str = "python:3.11-slim"

    @property
    def missing(self) -> list[str]:
        """Files the spec names that do not exist yet."""
        return [item.path for item in (self.entry_script, *self.models, self.environment) if not item.found]


def detect(directory: Path, service: str | None = None, base_image: str | None = None) -> Scaffold:
    """What the folder already holds, with placeholders for what it does not."""
    models = _model_files(directory)
    return Scaffold(
        service=service or service_name(directory.resolve().name),
        entry_script=_entry_script(directory),
        models=[Found(models[0])] if models else [Found("model.pkl", "not found yet: put your model here")],
        environment=_environment(directory),
        other_models=models[1:],
        base_image=base_image or default_base_image(),
    )


def default_base_image() -> str:
    """The sandbox's local stand-in for python:3.11-slim where this machine's Docker has it (the sandbox
    was set up here: no registry is reachable); python:3.11-slim, from the user's registry, anywhere else."""
    from fleetdeploy.sandbox.images import PYTHON_BASE_IMAGE

    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return "python:3.11-slim"
    try:
        docker.from_env(timeout=5).images.get(PYTHON_BASE_IMAGE)
    except DockerException:  # no engine, or no such image: a real controller
        return "python:3.11-slim"
    return PYTHON_BASE_IMAGE


def render(scaffold: Scaffold) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters["yaml_str"] = yaml_str
    env.filters["model_name"] = model_name
    template = env.from_string((Path(__file__).parent / "fleetdeploy.yml.j2").read_text(encoding="utf-8"))
    return template.render(
        service=scaffold.service,
        models=scaffold.models,
        other_models=scaffold.other_models,
        entry_script=scaffold.entry_script,
        environment=scaffold.environment,
        port=scaffold.port,
        base_image=scaffold.base_image,
        sandbox_base=scaffold.base_image.startswith("fleetdeploy/"),
    )


def write_scaffold(
    directory: Path, *, force: bool = False, service: str | None = None
) -> tuple[Path, Scaffold]:
    """Write <directory>/fleetdeploy.yml; refuse to replace an existing one unless `force`."""
    target = directory / DEFAULT_SPEC_NAME
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (use --force to overwrite it)")
    if service is not None and service_name(service) != service:
        raise ConfigError(
            f"--service {service!r}: use lowercase letters, digits and '-', e.g. {service_name(service)!r}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    scaffold = detect(directory, service)
    target.write_text(render(scaffold), encoding="utf-8")
    return target, scaffold


def service_name(text: str) -> str:
    """A folder name -> a valid service name ("My_Model v2" -> "my-model-v2")."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:41].rstrip("-")
    return name or "scoring"


def model_name(path: str) -> str:
    """A model file -> a model name ("outputs/sklearn_mnist_model.pkl" -> "sklearn_mnist_model")."""
    stem = Path(path).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem) or "model"


def yaml_str(text: str) -> str:
    """Plain when YAML reads it back as the same string, JSON-quoted (valid YAML) otherwise."""
    if re.fullmatch(r"[A-Za-z0-9_./][A-Za-z0-9_./-]*", text) and text not in (
        "null",
        "true",
        "false",
        "yes",
        "no",
    ):
        return text
    return json.dumps(text)


def _entry_script(directory: Path) -> Found:
    if (directory / "score.py").is_file():
        problems = check_entry_script(directory / "score.py")
        return Found("score.py", f"fix: {problems[0].problem}" if problems else None)
    for path in sorted(directory.glob("*.py")):
        if not check_entry_script(path):
            return Found(path.name)
    return Found("score.py", "not found yet: write it with init() and run(raw_data)")


def _model_files(directory: Path) -> list[str]:
    found = []
    for folder in MODEL_FOLDERS:
        base = directory / folder
        if base.is_dir():
            found += sorted(
                path.relative_to(directory).as_posix()
                for path in base.iterdir()
                if path.is_file() and path.suffix.lower() in MODEL_SUFFIXES
            )
    return found


def _environment(directory: Path) -> Found:
    for name in PIP_FILES:
        if (directory / name).is_file():
            return Found(name, kind="pip")
    for name in CONDA_FILES:
        if (directory / name).is_file():
            return Found(name, kind="conda")
    return Found("requirements.txt", "not found yet: list the packages score.py imports", kind="pip")
