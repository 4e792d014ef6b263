"""Why the server refused to start. Exit codes are distinct so supervisors (systemd, the container
role, rollout health checks) can tell a broken entry script from a crash worth restarting."""

from fleetdeploy.errors import FleetdeployError


class EntryScriptError(FleetdeployError):
    """The entry script cannot be used: missing file or function, syntax error, failing import."""

    exit_code = 3


class InitFailed(FleetdeployError):
    """The entry script's init() raised; the traceback and the model directory are in the log."""

    exit_code = 4
