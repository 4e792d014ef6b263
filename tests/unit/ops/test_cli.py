"""Bad input to the ops commands: one clear line on stderr, exit status 2, no traceback."""

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "fleetdeploy", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_status_without_a_spec_or_service_says_how_to_name_one(tmp_path):
    done = run("status", FIXTURES / "inventories" / "fleet.yml", cwd=tmp_path)
    assert done.returncode == 2
    assert "fleetdeploy.yml: no such deployment spec; pass -f PATH" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_service_name_is_refused():
    done = run("history", FIXTURES / "inventories" / "fleet.yml", "--service", "Bad Name")
    assert done.returncode == 2 and "--service 'Bad Name': not a service name" in done.stderr


def test_logs_for_an_unknown_node_lists_the_known_ones():
    done = run("logs", FIXTURES / "inventories" / "fleet.yml", "--service", "mnist", "--node", "ghost")
    assert done.returncode == 2
    assert (
        "--node ghost: no such host; the inventory has: node-bookworm-1, node-bookworm-2, node-trixie-1"
        in done.stderr
    )


def test_remove_without_a_terminal_wants_yes():
    done = run("remove", FIXTURES / "inventories" / "fleet.yml", "--service", "mnist")
    assert done.returncode == 2 and "pass --yes" in done.stderr
