"""The deployment spec (`fleetdeploy.yml`): typed model, loading, and validation that reports every
problem at once with the file, line and dotted path of the bad value. See docs/spec.md."""

from fleetdeploy.spec.issues import SpecError, SpecIssue
from fleetdeploy.spec.loader import DEFAULT_SPEC_NAME, load_spec
from fleetdeploy.spec.model import DEFAULT_PORT, Spec
from fleetdeploy.spec.sections import EntryScript, Environment, Health, ModelRef, Resources, Rollout, Server

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SPEC_NAME",
    "EntryScript",
    "Environment",
    "Health",
    "ModelRef",
    "Resources",
    "Rollout",
    "Server",
    "Spec",
    "SpecError",
    "SpecIssue",
    "load_spec",
]
