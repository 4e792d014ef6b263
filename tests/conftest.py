"""How the suite runs on several workers, and where its time goes.

scripts/test.sh runs pytest-xdist on two workers with the scheduler below: each test file is one unit of
work (module fixtures and file order hold as in a plain run), and files that share a sandbox fleet, each
building on the state the one before left, are one unit together, run by one worker in file order.
(xdist's own `--dist loadgroup` marks do nothing under pytest 9.2, which no longer reads the node id
xdist rewrites.)

Time: the summary is printed at the end of every run so CI logs show it.

scripts/test.sh times its set-up phases (bootstrap, example model, images) and hands them over in
FLEETDEPLOY_SETUP_PHASES ("name=seconds,..."); this adds pytest's own wall time, the time per test
file (set-up, call and tear-down of its tests, so a module's shared fleet and cold deploy count
where they happen) and the total. pytest's --durations (test.sh asks for the slowest 25) names the
single slowest steps.
"""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict

import pytest

_started = time.monotonic()
_per_file: dict[str, float] = defaultdict(float)


def pytest_configure(config):
    # A runner started in the background by a script (`cmd &`) inherits an ignored SIGINT, and so would
    # every command the tests start: the Ctrl-C tests (status --watch, logs -f) would wait forever.
    # Ignored stays ignored across exec, a handler does not: give the tests a terminal's Ctrl-C.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# Test files that share a sandbox fleet (the same sandbox_fleet arguments) and build on each other's state.
SHARED_FLEETS = {
    "fleet-apply": ("tests/e2e/test_apply.py", "tests/e2e/test_apply_faults.py", "tests/e2e/test_rollout.py"),
    "fleet-venv": ("tests/e2e/test_runtime_conda.py", "tests/e2e/test_runtime_venv.py"),
}
_UNIT_OF_FILE = {path: fleet for fleet, paths in SHARED_FLEETS.items() for path in paths}


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its shared fleet, or else its file."""
    path = nodeid.split("::", 1)[0]
    return _UNIT_OF_FILE.get(path, path)


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: `-p no:xdist` runs without it
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FleetScheduling(LoadScopeScheduling):
        """xdist's per-scope scheduling, with work_unit as the scope."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return FleetScheduling(config, log)


def pytest_runtest_logreport(report):
    _per_file[report.nodeid.split("::", 1)[0]] += report.duration


def setup_phases(text: str) -> list[tuple[str, float]]:
    """Parse "bootstrap=84,images=166" (what scripts/test.sh exports) into (name, seconds) pairs."""
    phases = []
    for item in filter(None, text.split(",")):
        name, _, seconds = item.partition("=")
        try:
            phases.append((name, float(seconds)))
        except ValueError:
            continue  # a hand-set variable with junk in it must not break the summary
    return phases


def pytest_terminal_summary(terminalreporter):
    write = terminalreporter.write_line
    files = sorted(_per_file.items(), key=lambda item: item[1], reverse=True)
    if len(files) > 1:
        terminalreporter.section("time per test file (slowest 15)")
        for path, seconds in files[:15]:
            write(f"{seconds:8.1f} s  {path}")
    phases = setup_phases(os.environ.get("FLEETDEPLOY_SETUP_PHASES", ""))
    pytest_seconds = time.monotonic() - _started
    terminalreporter.section("suite time")
    for name, seconds in [*phases, ("pytest", pytest_seconds)]:
        write(f"{seconds:8.0f} s  {name}")
    write(f"{sum(s for _, s in phases) + pytest_seconds:8.0f} s  total ({time.strftime('%Y-%m-%d')})")
