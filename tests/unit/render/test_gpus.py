import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.render import gpu_device_requests


@pytest.mark.parametrize("gpus", [0, None])
def test_no_gpu_requests_nothing(gpus):
    assert gpu_device_requests(gpus) == []


def test_all_gpus_is_count_minus_one():
    assert gpu_device_requests("all") == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]


def test_a_count_requests_that_many():
    assert gpu_device_requests(2) == [{"driver": "nvidia", "count": 2, "capabilities": [["gpu"]]}]


def test_device_ids_are_strings():
    assert gpu_device_requests([0, "GPU-3a2b"]) == [
        {"driver": "nvidia", "device_ids": ["0", "GPU-3a2b"], "capabilities": [["gpu"]]}
    ]


@pytest.mark.parametrize("gpus", [-1, True, "some", [], [-1], [""], 1.5])
def test_bad_requests_name_the_field(gpus):
    with pytest.raises(ConfigError, match=r"^resources\.gpus: "):
        gpu_device_requests(gpus)
