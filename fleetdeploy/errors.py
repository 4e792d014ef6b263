"""One exception hierarchy. The CLI prints any FleetdeployError as one line and exits non-zero;
anything else is a bug and is shown with its traceback."""


class FleetdeployError(Exception):
    """An expected failure with a message meant for the user (names the file, field or host)."""

    exit_code = 1


class ConfigError(FleetdeployError):
    """A deployment spec, inventory or command-line value is invalid."""

    exit_code = 2


class EnvironmentProblem(FleetdeployError):
    """Something on this machine is missing or not running (Docker, an image, a tool)."""


class DeployError(FleetdeployError):
    """A deploy, rollout or fleet operation failed on one or more nodes."""
