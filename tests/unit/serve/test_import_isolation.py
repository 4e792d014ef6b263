"""The server is installed into every scoring image: its import path must not pull controller deps."""

import json
import subprocess
import sys

CONTROLLER_ONLY = ["ansible", "ansible_runner", "docker", "pydantic", "rich", "jinja2", "yaml"]


def imported_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_serve_path_imports_no_controller_dependency():
    modules = imported_after(
        "import fleetdeploy.cli.serve_cmd, fleetdeploy.serve.main, fleetdeploy.serve.worker, "
        "fleetdeploy.serve.supervisor, fleetdeploy.serve.uvicorn_server, fleetdeploy.serve.granian_server"
    )
    leaked = [name for name in CONTROLLER_ONLY if name in modules]
    assert leaked == [], f"the scoring server imports controller dependencies: {leaked}"
    assert {"uvicorn", "granian"} <= modules  # the check itself works: the server's own deps are there


def test_the_cli_that_runs_serve_imports_no_controller_dependency():
    # `fleetdeploy serve` goes through fleetdeploy.cli, which registers every command: controller
    # commands must import their dependencies lazily, inside the command.
    modules = imported_after("import fleetdeploy.cli")
    leaked = [name for name in CONTROLLER_ONLY if name in modules]
    assert leaked == [], f"`fleetdeploy serve` imports controller dependencies through fleetdeploy.cli: {leaked}"
