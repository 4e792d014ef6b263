"""Reading a conda environment file (Azure's `conda_dependencies.yml`) and checking its shape, so a
typo is reported against the file and line instead of failing halfway through an image build."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from fleetdeploy.spec.issues import format_path
from fleetdeploy.spec.yamlmarks import MarkedDocument, YamlSyntaxError, load_marked

_KNOWN_KEYS = ("name", "channels", "dependencies", "prefix", "variables")


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def read_conda_file(path: Path) -> tuple[dict[str, Any] | None, list[tuple[str, str | None]]]:
    """(content, problems); each problem is (message naming file:line and the key path, hint)."""
    try:
        document = load_marked(path.read_text(encoding="utf-8"))
    except YamlSyntaxError as exc:
        return None, [(f"{path.name}:{exc.line}: not valid YAML: {exc.problem}", None)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [(f"cannot read {path.name}: {exc}", None)]
    content = document.data
    if not isinstance(content, dict):
        return None, [(f"{path.name}: must be a mapping with `dependencies:`", _SHAPE_HINT)]
    problems = list(_shape_problems(content, document, path.name))
    return (None if problems else content), problems


_SHAPE_HINT = (
    "a conda file looks like `channels: [conda-forge]` and `dependencies: [python=3.11, {pip: [...]}]`"
)


def _shape_problems(content: dict, document: MarkedDocument, filename: str):
    def at(loc, problem, hint=None):
        line = document.line_of(loc)
        where = f"{filename}:{line}" if line else filename
        return f"{where}: {format_path(loc)}: {problem}", hint

    for key in content:
        if key not in _KNOWN_KEYS:
            yield at((key,), f"unknown key '{key}'", did_you_mean(str(key), _KNOWN_KEYS))
    if "name" in content and not isinstance(content["name"], str):
        yield at(("name",), "must be a string")
    channels = content.get("channels", [])
    if not _is_list_of_strings(channels):
        yield at(("channels",), "must be a list of channel names", "e.g. `channels: [conda-forge]`")
    if "dependencies" not in content:
        yield at((), "has no `dependencies:` list", _SHAPE_HINT)
        return
    dependencies = content["dependencies"]
    if not isinstance(dependencies, list):
        yield at(("dependencies",), "must be a list", _SHAPE_HINT)
        return
    pip_sections = 0
    for index, item in enumerate(dependencies):
        loc = ("dependencies", index)
        if isinstance(item, str) and item.strip():
            continue
        if isinstance(item, dict) and list(item) == ["pip"]:
            pip_sections += 1
            if pip_sections > 1:
                yield at(
                    loc, "a second `pip:` section", "merge all pip packages into one `- pip: [...]` entry"
                )
            elif not _is_list_of_strings(item["pip"]):
                yield at(
                    (*loc, "pip"),
                    "must be a list of pip requirement strings",
                    "e.g. `- pip: [numpy==1.26.4]`",
                )
            continue
        yield at(loc, f"must be a package spec string or `pip: [...]`, got {_describe(item)}", _SHAPE_HINT)


def _is_list_of_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value)


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping with keys " + ", ".join(repr(str(key)) for key in value)
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"
