"""Spec problems as data: every check appends a `SpecIssue`, and loading raises one `SpecError` carrying
all of them, so a user fixes their file in one pass instead of one error per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.errors import ConfigError


def format_path(loc: tuple[str | int, ...]) -> str:
    """('models', 0, 'path') -> 'models[0].path', the way users would write it in a query."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class SpecIssue:
    """One bad value: where it is (file, YAML line, dotted path), what is wrong, and how to fix it."""

    file: Path
    loc: tuple[str | int, ...]
    problem: str
    hint: str | None = None
    line: int | None = None

    @property
    def path(self) -> str:
        return format_path(self.loc)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        text = f"{where}: {self.path}: {self.problem}" if self.loc else f"{where}: {self.problem}"
        return f"{text} ({self.hint})" if self.hint else text


class SpecError(ConfigError):
    """The deployment spec has one or more invalid values (all of them are listed)."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = list(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the deployment spec"
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues))
