"""Variables as YAML that Ansible reads back exactly as given."""

from __future__ import annotations

from pathlib import PurePath

import yaml

from fleetdeploy.errors import ConfigError


class _Unsafe(str):
    """A string Ansible must not template (user data that happens to contain `{{` or `{%`)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def plain_data(value, where: str = "variables"):
    """A copy of `value` made only of YAML types; paths become strings; templating markers are escaped."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: key {key!r} must be a string")
            out[key] = plain_data(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [plain_data(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, PurePath):
        value = str(value)
    if isinstance(value, str):
        # Extra vars are templated by Ansible: a sample request containing "{{" would otherwise break.
        return _Unsafe(value) if ("{{" in value or "{%" in value or "{#" in value) else value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise ConfigError(f"{where}: {type(value).__name__} value {value!r} cannot be passed to Ansible")


def to_yaml(value) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True)
