"""Polling with growing sleeps until a deadline, then saying how long it waited and what it last saw."""

from __future__ import annotations

import time
from collections.abc import Callable

from fleetdeploy.errors import FleetdeployError


class WaitTimeout(FleetdeployError):
    """Something did not reach the wanted state before its deadline."""


def wait_until(
    check: Callable[[], tuple[bool, str]],
    what: str,
    timeout: float,
    first_sleep: float = 0.2,
    max_sleep: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Call `check` until it returns (True, state). `check` returns (done, state seen); on timeout the
    last state seen goes into the error, e.g. "node1: systemd still 'starting' after 120s"."""
    deadline = clock() + timeout
    pause = first_sleep
    started = clock()
    while True:
        done, state = check()
        if done:
            return state
        if clock() + pause > deadline:
            raise WaitTimeout(
                f"{what}: still {state} after {clock() - started:.0f}s (timeout {timeout:.0f}s)"
            )
        sleep(pause)
        pause = min(pause * 1.6, max_sleep)
