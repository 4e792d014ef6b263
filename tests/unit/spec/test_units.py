import pytest

from fleetdeploy.spec import rollout
from fleetdeploy.spec.units import format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    "text, size",
    [(512, 512), ("512m", 512 * 1024**2), ("2g", 2 * 1024**3), ("2G", 2 * 1024**3), ("100MiB", 100 * 1024**2),
     ("1.5GB", 1_500_000_000), ("10 kb", 10_000), ("64k", 65536)],
)  # fmt: skip
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "12 parsecs", "-1", -5, True, None, 1.5])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("text, seconds", [(30, 30.0), (2.5, 2.5), ("90s", 90.0), ("2m", 120.0), ("1h", 3600.0),
                                           ("500ms", 0.5), ("45", 45.0)])  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-3s", -1, "1d", None])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_size():
    assert [format_size(n) for n in (1024**3, 512 * 1024**2, 1536 * 1024, 100)] == [
        "1g",
        "512m",
        "1536k",
        "100",
    ]


@pytest.mark.parametrize(
    "sizes, n_hosts, expected",
    [
        ([1], 3, [[0], [1], [2]]),
        ([2], 5, [[0, 1], [2, 3], [4]]),
        (["50%"], 4, [[0, 1], [2, 3]]),
        (["30%"], 3, [[0], [1], [2]]),  # 30% of 3 floors to 0, and a batch is never empty
        ([1, "50%"], 5, [[0], [1, 2], [3, 4]]),
        ([1, 2, 10], 20, [[0], [1, 2], list(range(3, 13)), list(range(13, 20))]),
        (["100%"], 7, [list(range(7))]),
        ([3], 0, []),
    ],
)
def test_batches(sizes, n_hosts, expected):
    assert rollout.batches(sizes, n_hosts) == expected


@pytest.mark.parametrize("value", [0, -2, "0%", "101%", "half", True, 1.5])
def test_bad_batch_sizes(value):
    with pytest.raises(ValueError):
        rollout.parse_batch_size(value)


@pytest.mark.parametrize("value, n_hosts, allowed", [(0, 10, 0), (2, 10, 2), ("10%", 25, 2), ("0%", 5, 0)])
def test_allowed_failures(value, n_hosts, allowed):
    assert rollout.allowed_failures(rollout.parse_max_fail(value), n_hosts) == allowed
