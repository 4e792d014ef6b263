"""The spec's `resources.gpus` as the device requests docker (and fleet_service) takes."""

from __future__ import annotations

from fleetdeploy.errors import ConfigError

_GPU = {"driver": "nvidia", "capabilities": [["gpu"]]}


def gpu_device_requests(gpus, *, field: str = "resources.gpus") -> list[dict]:
    """0/None: no GPU; "all": every GPU; N: any N GPUs; [ids]: those devices (like `docker run --gpus`)."""
    if gpus is None or gpus == 0:
        return []
    if gpus == "all":
        return [{**_GPU, "count": -1}]
    if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 0:
        return [{**_GPU, "count": gpus}]
    if isinstance(gpus, list) and gpus and all(_is_device_id(g) for g in gpus):
        return [{**_GPU, "device_ids": [str(g) for g in gpus]}]
    raise ConfigError(
        f"{field}: {gpus!r} is not a GPU request; use 0, all, a positive count, or a list of device ids "
        "such as [0, 2] or [GPU-3a2b...]"
    )


def _is_device_id(value) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value >= 0) or (isinstance(value, str) and value.strip() != "")
