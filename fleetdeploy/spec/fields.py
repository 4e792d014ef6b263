"""Helpers shared by the spec sections: raising our own issues from pydantic validators and resolving
paths against the spec file's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationInfo
from pydantic_core import PydanticCustomError

# A validator raises this error type; the loader turns its context into SpecIssues. `at` extends the
# location pydantic knows (a sub-key of the validated value); `issues` carries several problems at once.
ISSUE_TYPE = "fleetdeploy"


def problem(message: str, hint: str | None = None, at: tuple = ()) -> PydanticCustomError:
    return PydanticCustomError(ISSUE_TYPE, "{message}", {"message": message, "hint": hint, "at": at})


def problems(found: list[tuple[tuple, str, str | None]]) -> PydanticCustomError:
    """Several problems found by one validator, each as (sub-location, message, hint)."""
    at, message, hint = found[0]
    return PydanticCustomError(
        ISSUE_TYPE, "{message}", {"message": message, "hint": hint, "at": at, "issues": found}
    )


def base_dir(info: ValidationInfo) -> Path:
    """The folder relative paths in the spec start from (the spec file's folder)."""
    context = info.context or {}
    return Path(context.get("base_dir") or Path.cwd())


def context_cache(info: ValidationInfo) -> dict[str, Any]:
    """Scratch space shared by the validators of one load (e.g. a parsed file handed to a section)."""
    if info.context is None:
        return {}
    return info.context.setdefault("cache", {})


def resolve_path(value: object, start: Path, hint: str) -> Path:
    """A path string -> absolute Path (relative to `start`), that need not exist yet (a file fleetdeploy
    makes)."""
    if not isinstance(value, str | Path) or not str(value).strip():
        raise problem(f"must be a path, got {value!r}", hint)
    return (start / Path(value).expanduser()).resolve()


def resolve_existing(value: object, start: Path, kind: str, hint: str | None = None) -> Path:
    """A path string -> absolute Path, checked to exist as `kind` ("file", "folder" or "file or folder")."""
    if not isinstance(value, str | Path) or not str(value).strip():
        raise problem(f"must be a path ({kind}), got {value!r}", hint)
    path = (start / Path(value).expanduser()).resolve()
    if not path.exists():
        raise problem(f"no such {kind}: {value}", hint or f"paths are relative to {start}")
    if kind == "file" and not path.is_file():
        raise problem(f"not a file: {value}", hint)
    if kind == "folder" and not path.is_dir():
        raise problem(f"not a folder: {value}", hint)
    return path
