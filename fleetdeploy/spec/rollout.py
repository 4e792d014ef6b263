"""Rollout arithmetic: how many hosts go in each batch and how many may fail. Pure functions, following
Ansible's `serial` rules (a percentage is floored but never below one host; the last size repeats)."""

from __future__ import annotations

import math

from fleetdeploy.spec.units import parse_percent

BatchSize = int | str  # 3 or "25%"


def parse_batch_size(value: object) -> BatchSize:
    """Validate one batch size: an int >= 1 or a percentage in (0, 100]."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"batch size must be at least 1, got {value}")
        return value
    percent = parse_percent(value)
    if percent is None or not 0 < percent <= 100:
        raise ValueError(f"not a batch size: {value!r} (write a host count like 2 or a share like '25%')")
    return f"{percent:g}%"


def hosts_in(size: BatchSize, n_hosts: int) -> int:
    """How many of `n_hosts` one batch size means (at least 1)."""
    if isinstance(size, int):
        return size
    return max(1, math.floor(n_hosts * float(size[:-1]) / 100))


def batches(sizes: list[BatchSize], n_hosts: int) -> list[list[int]]:
    """Split host indexes 0..n_hosts-1 into consecutive batches; the last size repeats until all are done."""
    result: list[list[int]] = []
    start = 0
    step = 0
    while start < n_hosts:
        count = hosts_in(sizes[min(step, len(sizes) - 1)], n_hosts)
        result.append(list(range(start, min(start + count, n_hosts))))
        start += count
        step += 1
    return result


def parse_max_fail(value: object) -> int | str:
    """Validate max_fail: a host count >= 0 or a percentage in [0, 100]."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"max_fail must not be negative, got {value}")
        return value
    percent = parse_percent(value)
    if percent is None or not 0 <= percent <= 100:
        raise ValueError(
            f"not a failure allowance: {value!r} (write a host count like 0 or a share like '10%')"
        )
    return f"{percent:g}%"


def allowed_failures(max_fail: int | str, n_hosts: int) -> int:
    """How many hosts may fail before the rollout stops (a percentage is floored)."""
    if isinstance(max_fail, int):
        return max_fail
    return math.floor(n_hosts * float(max_fail[:-1]) / 100)
