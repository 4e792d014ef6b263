"""Waiting with growing sleeps until a deadline, then naming the state last seen."""

import pytest

from fleetdeploy.sandbox.wait import WaitTimeout, wait_until


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_state_once_done_and_sleeps_grow_to_a_cap():
    fake = FakeTime()
    answers = iter([(False, "starting")] * 8 + [(True, "running")])
    state = wait_until(lambda: next(answers), "node1", 60, clock=fake.clock, sleep=fake.sleep, max_sleep=1.0)
    assert state == "running"
    assert fake.sleeps[0] == 0.2
    assert all(b >= a for a, b in zip(fake.sleeps, fake.sleeps[1:]))
    assert max(fake.sleeps) == 1.0


def test_timeout_says_what_was_seen_and_for_how_long():
    fake = FakeTime()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            lambda: (False, "systemd 'starting'"),
            "node fleetdeploy-x-node1",
            10,
            clock=fake.clock,
            sleep=fake.sleep,
        )
    assert str(caught.value).startswith("node fleetdeploy-x-node1: still systemd 'starting' after ")
    assert "(timeout 10s)" in str(caught.value)
    assert fake.now <= 10
