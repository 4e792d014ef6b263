"""Variables as YAML or JSON that Ansible reads back exactly as given."""

from __future__ import annotations

import json
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


def to_ansible_json(value) -> str:
    """`value` (from plain_data) as JSON for a vars file: Ansible tries JSON before YAML and parses it
    about 5x faster. It parses a play's vars_files again for every task on every host (only vaulted
    files are cached, ansible-core 2.19), which made YAML parsing a fifth of a deploy's controller CPU.
    Strings not to be templated keep that mark as Ansible's JSON spells it."""
    return json.dumps(_json_marked(value), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _json_marked(value):
    if isinstance(value, _Unsafe):
        return {"__ansible_unsafe": str(value)}
    if isinstance(value, dict):
        return {key: _json_marked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_marked(item) for item in value]
    return value
