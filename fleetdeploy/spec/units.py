"""Parsing the human-friendly quantities a spec may contain: sizes, durations, counts or percentages.
Each parser raises ValueError with a message that says what would have been accepted."""

from __future__ import annotations

import re

# Single letters follow Docker (`--memory 512m` is 512 MiB); the IEC suffixes are binary and the SI
# ones decimal, so "100MiB" and "100MB" both mean what they say.
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "ki": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mi": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gi": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "ti": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_size(value: object) -> int:
    """512 (bytes), "512m", "2g", "100MiB", "1.5GB" -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"size must not be negative, got {value}")
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else None
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {value!r} (write bytes, or a number with a unit: 512m, 2g, 100MiB)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(value: object) -> float:
    """30, 2.5, "90s", "2m", "1h", "500ms" -> seconds."""
    if _is_number(value):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value}")
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not a duration: {value!r} (write seconds, or a number with a unit: 90s, 2m, 1h)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def parse_percent(value: object) -> float | None:
    """ "25%" -> 25.0; anything that is not a percentage string -> None."""
    match = _PERCENT.match(value) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


def format_size(size: int) -> str:
    """Bytes -> the shortest exact binary form ("1g", "512m", "1536k", "100")."""
    for unit, factor in (("t", 1024**4), ("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
