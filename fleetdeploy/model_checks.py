"""The spec's model files checked before anything is built or sent (docs/models.md, "Pickle safety"):
no file may import something outside the known-safe list when loaded, and a model scikit-learn saved
must be loaded by the scikit-learn version the environment installs. A model entry with `trusted: true`
is let through both, its findings said as warnings."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.pickle_scan import PickleReport, scan_paths
from fleetdeploy.registry import unsafe_line

SKLEARN = "scikit-learn"
# A requirement on scikit-learn (pip's or conda's spelling) and the exact version it pins, if any.
_REQUIREMENT = re.compile(r"^\s*(scikit[-_]learn|sklearn)\s*(?:\[[^\]]*\])?\s*(={1,3})\s*([0-9][^\s;,#]*)", re.IGNORECASE)
_NAMED = re.compile(r"^\s*(scikit[-_]learn)\b", re.IGNORECASE)


def pinned_version(lines: list[str]) -> tuple[bool, str | None]:
    """(whether scikit-learn is required at all, the exact version pinned or None)."""
    named = False
    for line in lines:
        found = _REQUIREMENT.match(line)
        if found:
            return True, found.group(3)
        named = named or bool(_NAMED.match(line))
    return named, None


def environment_requirements(spec) -> list[str]:
    """Every requirement line of the environment: pip's, and for conda its packages and pip section."""
    lines = list(spec.environment.pip_requirements())
    for item in (spec.environment.conda_content or {}).get("dependencies", []):
        if isinstance(item, str):
            lines.append(item)
    return lines


def check_models(spec, say: Callable[[str], None]) -> list[PickleReport]:
    """Refuses (ConfigError naming file and fix) or returns the reports; warnings go to `say`."""
    required, pinned = pinned_version(environment_requirements(spec))
    problems, reports = [], []
    for index, model in enumerate(spec.models):
        where = f"models[{index}] ({model.name} {model.version})"
        for report in scan_paths([model.path]):
            reports.append(report)
            found = _judge(report, where, required, pinned, spec.environment.file)
            if found and model.trusted:
                for problem in found:
                    say(f"warning: {problem} (shipped: trusted: true)")
            else:
                problems.extend(found)
    if problems:
        raise ConfigError("the spec's models would not load safely or correctly:\n  " + "\n  ".join(problems))
    return reports


def _judge(report: PickleReport, where: str, required: bool, pinned: str | None, env_file: Path) -> list[str]:
    found = []
    if report.unsafe:
        found.append(f"{where}: {unsafe_line(report)}; if you trust where it comes from, set `trusted: true` "
                     "on that model entry")
    if report.error and not report.imports:
        found.append(f"{where}: {report.path}: cannot be read as a pickle ({report.error}); a file that does not "
                     "load fails on every node: re-save it, or set `trusted: true` if it loads with a custom reader")
    for version in report.sklearn_versions:
        if pinned is None:
            needs = "pins no version" if required else "does not install it"
            found.append(
                f"{where}: {report.path} was saved by {SKLEARN} {version}, and {env_file} {needs}: pin "
                f"`{SKLEARN}=={version}` there (scikit-learn loads a model reliably only with the version that saved it)"
            )
        elif pinned != version:
            found.append(
                f"{where}: {report.path} was saved by {SKLEARN} {version}, but {env_file} pins {pinned}: pin "
                f"`{SKLEARN}=={version}`, or re-save the model with {pinned} (another version may predict "
                "differently; scikit-learn only warns, on the node, when it loads it)"
            )
    return found
