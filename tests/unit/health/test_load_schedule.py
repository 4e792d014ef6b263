"""The load generator's per-node schedule (pure logic): slots at a fixed interval shared by a node's
workers; a slot waits for a free worker up to MAX_LAG; after a longer stall the missed slots are skipped
(counted) and the schedule goes on from now."""

import pytest

from tests.load import MAX_LAG, _Schedule


def test_workers_take_consecutive_slots():
    schedule = _Schedule(offset=0.5, interval=0.1)
    schedule.begin(100.0)
    assert [schedule.take(now=100.0) for _ in range(3)] == pytest.approx([100.5, 100.6, 100.7])
    assert schedule.skipped == 0


def test_a_late_slot_is_still_sent_within_the_lag():
    schedule = _Schedule(offset=0.0, interval=0.1)
    schedule.begin(0.0)
    assert schedule.take(now=MAX_LAG - 0.05) == pytest.approx(0.0)  # late, but sent at once
    assert schedule.skipped == 0


def test_slots_missed_while_every_worker_was_busy_are_skipped_not_burst():
    schedule = _Schedule(offset=0.0, interval=0.1)
    schedule.begin(0.0)
    slot = schedule.take(now=2.05)  # every worker was busy for 2 s: the schedule restarts from now
    assert slot == pytest.approx(2.0)
    assert schedule.skipped == 20  # slots 0.0 .. 1.9, none of them sent late in a burst
    assert schedule.take(now=2.05) == pytest.approx(2.1)
