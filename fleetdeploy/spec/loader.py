"""Loading `fleetdeploy.yml`: YAML with line numbers -> pydantic validation -> one SpecError listing
every problem as `<file>:<line>: <dotted.path>: <problem> (<hint>)`."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError

from fleetdeploy.errors import ConfigError
from fleetdeploy.spec.conda import did_you_mean
from fleetdeploy.spec.fields import ISSUE_TYPE
from fleetdeploy.spec.issues import SpecError, SpecIssue
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.yamlmarks import MarkedDocument, YamlSyntaxError, load_marked

DEFAULT_SPEC_NAME = "fleetdeploy.yml"

_REQUIRED_HINTS = {
    ("service",): "name the service, e.g. `service: mnist`",
    ("models",): "list the model files, e.g. `models: [{name: mnist, version: 1, path: model.pkl}]`",
    ("entry_script",): "point at the scoring script, e.g. `entry_script: {path: score.py}`",
    ("environment",): "give the packages, e.g. `environment: {pip: requirements.txt}`",
}


def load_spec(path: str | Path = DEFAULT_SPEC_NAME) -> Spec:
    """Read and validate a deployment spec; raise SpecError with all problems, or ConfigError if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such deployment spec (write one with `fleetdeploy init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the deployment spec: {exc}") from None
    try:
        document = load_marked(text)
    except YamlSyntaxError as exc:
        column = f" (column {exc.column})" if exc.column else ""
        issue = SpecIssue(path, (), f"not valid YAML{column}: {exc.problem}", line=exc.line)
        raise SpecError([issue]) from None
    if not isinstance(document.data, dict):
        raise SpecError(
            [SpecIssue(path, (), "must be a mapping of settings", "start from `fleetdeploy init`")]
        )
    duplicates = [
        SpecIssue(
            path,
            loc,
            f"duplicate key (first on line {first})",
            "YAML keeps only the last one; merge them",
            line,
        )
        for loc, line, first in document.duplicates
    ]
    try:
        spec = Spec.model_validate(document.data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise SpecError(_sorted(duplicates + issues_from(exc, document, path))) from None
    if duplicates:
        raise SpecError(duplicates)
    spec._source = path.resolve()
    spec._data = document.data
    return spec


def issues_from(exc: ValidationError, document: MarkedDocument, path: Path) -> list[SpecIssue]:
    """Pydantic's errors, reworded as ours and placed on their YAML lines."""
    issues = []
    for error in exc.errors(include_url=False):
        for loc, message, hint in _reworded(error):
            # A missing top-level key has no line of its own; the first line of the file would mislead.
            line = None if error["type"] == "missing" and len(loc) == 1 else document.line_of(loc)
            issues.append(SpecIssue(path, loc, message, hint, line))
    return _sorted(issues)


def _sorted(issues: list[SpecIssue]) -> list[SpecIssue]:
    return sorted(issues, key=lambda issue: (issue.line or 0, issue.path))


def _reworded(error: dict) -> list[tuple[tuple, str, str | None]]:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == ISSUE_TYPE:
        ctx = error["ctx"]
        found = ctx.get("issues") or [(ctx["at"], ctx["message"], ctx["hint"])]
        return [((*loc, *at), message, hint) for at, message, hint in found]
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        hint = did_you_mean(str(loc[-1]), known) or ("known keys: " + ", ".join(known) if known else None)
        return [(loc, f"unknown key '{loc[-1]}'", hint)]
    if kind == "missing":
        return [(loc, "is required", _REQUIRED_HINTS.get(loc))]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return [(loc, f"must be a mapping of keys, got {_show(error['input'])}", None)]
    if kind == "list_type":
        return [(loc, f"must be a list, got {_show(error['input'])}", None)]
    if kind == "too_short":
        return [(loc, "must list at least one entry", _REQUIRED_HINTS.get(loc))]
    message = error["msg"].removeprefix("Input ")
    message = message[:1].lower() + message[1:]
    if ", got " not in message:
        message += f", got {_show(error['input'])}"
    return [(loc, message, None)]


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known_keys(loc: tuple) -> list[str]:
    """Field names of the section at `loc` (walking list items and nested sections)."""
    model: object = Spec
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _section_type(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _section_type(annotation: object) -> object:
    """list[ModelRef] -> ModelRef; Optional[X] -> X; other annotations unchanged."""
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation
