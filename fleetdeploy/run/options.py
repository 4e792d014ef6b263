"""`-e/--extra-vars` and `-v` from fleetdeploy's command line, as `ansible-playbook` takes them, kept for
every run this process starts (runner.run_playbook merges them in).

As in Ansible, extra variables outrank everything else, the spec's values in the vars file included:
`-e fleetdeploy_scoring_url=...` points every node's check elsewhere. Only the values a run of
fleetdeploy's own needs (the lock holder, the stop file, a rollback's target) win over them."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from fleetdeploy.errors import ConfigError

_extra_vars: dict = {}
_verbosity = 0


def add_extra_vars(values: tuple[str, ...] | list[str]) -> None:
    """Each value as ansible-playbook takes it: `key=value key2=value2`, a JSON or YAML mapping, or
    `@file` (YAML or JSON); later values win. ConfigError naming the value otherwise."""
    for value in values:
        _extra_vars.update(parse_extra_vars(value))


def extra_vars() -> dict:
    return dict(_extra_vars)


def use_forks(forks: int) -> None:
    """`--forks N`: how many nodes Ansible works on at once, for every run of this process. The
    environment variable outranks the forks of any ansible.cfg, the site's included, as Ansible's own
    flag does."""
    import os

    os.environ["ANSIBLE_FORKS"] = str(forks)


def use_verbosity(count: int) -> None:
    """`-v` (count): Ansible's own output is shown as it runs; each further v is one of Ansible's
    (`-vv` runs ansible-playbook -v, up to -vvvvv for its -vvvv)."""
    global _verbosity
    _verbosity = count


def verbosity() -> int:
    """How many -v the command line gave (0: Ansible's output is only kept in the run folder)."""
    return _verbosity


def ansible_verbosity() -> int:
    """The -v count ansible-playbook gets: one fewer than fleetdeploy's, whose first -v shows the output."""
    return max(_verbosity - 1, 0)


def parse_extra_vars(value: str) -> dict:
    text = value.strip()
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"-e {value}: cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"-e {value}: {path} is not YAML or JSON: {exc}") from None
        return _mapping(loaded, f"-e {value}: {path}")
    if text.startswith(("{", "[", "---")):
        try:
            return _mapping(json.loads(text) if text.startswith("{") else yaml.safe_load(text), f"-e {value!r}")
        except ValueError:
            try:
                return _mapping(yaml.safe_load(text), f"-e {value!r}")
            except yaml.YAMLError as exc:
                raise ConfigError(f"-e {value!r}: not a JSON or YAML mapping: {exc}") from None
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"-e {value!r}: {exc}") from None
    pairs = {}
    for word in words:
        key, equals, item = word.partition("=")
        if not equals or not key.isidentifier():
            raise ConfigError(
                f"-e {value!r}: {word!r} is not key=value (give key=value pairs, a JSON or YAML mapping, or @FILE)"
            )
        pairs[key] = item
    if not pairs:
        raise ConfigError("-e: empty value (give key=value pairs, a JSON or YAML mapping, or @FILE)")
    return pairs


def _mapping(loaded, where: str) -> dict:
    if not isinstance(loaded, dict) or not all(isinstance(key, str) for key in loaded):
        raise ConfigError(f"{where} is not a mapping of variable names to values")
    return loaded
