"""Loading inventories through Ansible's own InventoryManager, so every inventory users already have
works (YAML, INI, directories with group_vars/host_vars, inventory plugins, `--limit` patterns) and the
rest of fleetdeploy sees plain dataclasses. The only module that imports ansible's inventory code."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetdeploy.errors import ConfigError
from fleetdeploy.vault import first_line, vault_secrets

SCORING_URL_VAR = "fleetdeploy_scoring_url"
SCORING_URLS_VAR = "fleetdeploy_scoring_urls"  # {port: URL}: one per service a node runs

# Variables Ansible computes for every host (inventory_hostname, groups, playbook_dir...): they say
# nothing about the host and would drown the ones users wrote.
_MAGIC_VARS = frozenset(
    {
        "ansible_check_mode", "ansible_config_file", "ansible_diff_mode", "ansible_facts", "ansible_forks",
        "ansible_inventory_sources", "ansible_playbook_python", "ansible_run_tags", "ansible_search_path",
        "ansible_skip_tags", "ansible_verbosity", "ansible_version", "group_names", "groups", "hostvars",
        "inventory_dir", "inventory_file", "inventory_hostname", "inventory_hostname_short", "omit",
        "playbook_dir",
    }
)  # fmt: skip
# Variables fleetdeploy itself reads; templates in them ("{{ ... }}") are rendered at load time.
_RENDERED_VARS = ("ansible_host", "ansible_port", "ansible_user", SCORING_URL_VAR, SCORING_URLS_VAR)


@dataclass(frozen=True)
class Host:
    """One inventory host: its name, its variables (group and host vars merged, Ansible precedence)
    and the groups it belongs to."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host") or self.name)

    @property
    def port(self) -> int | None:
        port = self.vars.get("ansible_port")
        return int(port) if port not in (None, "") else None

    @property
    def user(self) -> str | None:
        return self.vars.get("ansible_user")


@dataclass(frozen=True)
class Inventory:
    """The hosts selected from one or more inventory sources (after `--limit`), in inventory order."""

    sources: tuple[str, ...]
    hosts: tuple[Host, ...]
    limit: str | None = None

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    @property
    def names(self) -> list[str]:
        return [host.name for host in self.hosts]

    def get(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def scoring_url(host: Host, port: int, tls: bool = False) -> str:
    """Where the controller reaches the host's service on `port`: the host's `fleetdeploy_scoring_urls`
    entry for the port, else `fleetdeploy_scoring_url` (`{port}` in it is the port), else
    http://<ansible_host or name>:<port>; https:// with `tls`. The very rule fleet_verify's checks follow
    (its filter plugin)."""
    from fleetdeploy.render.sources import role_plugin

    rule = role_plugin("fleet_verify", "filter_plugins", "fleet_verify")
    return rule.scoring_url(
        host.vars.get(SCORING_URLS_VAR), host.vars.get(SCORING_URL_VAR), host.address, port, tls
    )


def load_inventory(path: str | Path | Sequence[str | Path], limit: str | None = None) -> Inventory:
    """Parse inventory source(s) like `ansible-playbook -i` would and apply a `--limit` pattern.
    Raises ConfigError when a source is missing or unparseable, or when the selection is empty."""
    sources = [str(path)] if isinstance(path, str | Path) else [str(item) for item in path]
    for source in sources:
        # "host1,host2," is Ansible's inline host list, not a file.
        if "," not in source and not os.path.exists(source):
            raise ConfigError(f"{source}: no such inventory file or folder")

    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    _init_plugins()
    loader = DataLoader()
    vault_secrets(loader)
    with _captured_ansible_warnings() as warnings:
        try:
            manager = InventoryManager(loader=loader, sources=sources)
        except AnsibleError as exc:
            raise ConfigError(f"{', '.join(sources)}: cannot parse inventory: {first_line(exc)}") from None
    unparsed = [message for message in warnings if message.startswith("Unable to parse")]
    if unparsed:
        # Ansible only warns and goes on with the sources it could read; a deploy to part of a fleet
        # because one file has a typo is worse than stopping.
        reasons = [message for message in warnings if message.startswith("Failed to parse")]
        failed = ", ".join(
            message.removeprefix("Unable to parse ").removesuffix(" as an inventory source")
            for message in unparsed
        )
        if any("vault" in reason.lower() for reason in reasons):
            raise ConfigError(_vault_problem(sources, ConfigError(_unique(reasons)[0])))
        details = "".join(f"\n  {reason}" for reason in _unique(reasons))
        raise ConfigError(f"{failed}: cannot parse inventory{details}")

    known = [host.name for host in manager.get_hosts()]
    if not known:
        raise ConfigError(f"{', '.join(sources)}: the inventory has no hosts")
    if limit:
        try:
            with _captured_ansible_warnings():  # "Could not match supplied host pattern": we say it better
                manager.subset(limit)
                selected = manager.get_hosts()
        except AnsibleError as exc:
            raise ConfigError(f"--limit {limit}: {first_line(exc)}") from None
        if not selected:
            raise ConfigError(f"--limit {limit} matches no host; the inventory has: {', '.join(known)}")
    else:
        selected = manager.get_hosts()

    variables = VariableManager(loader=loader, inventory=manager)
    try:
        hosts = tuple(_host(loader, variables, host) for host in selected)
    except AnsibleError as exc:
        if not _is_vault_error(exc):
            raise
        raise ConfigError(_vault_problem(sources, exc)) from None
    return Inventory(sources=tuple(sources), hosts=hosts, limit=limit or None)


_plugins_ready = False


def _init_plugins() -> None:
    """Let Ansible find collection plugins (`plugin: ansible.builtin.constructed`, `amazon.aws.aws_ec2`)
    the way its own CLIs do; needed once per process."""
    global _plugins_ready
    if not _plugins_ready:
        from ansible.plugins.loader import init_plugin_loader

        init_plugin_loader()
        _plugins_ready = True


def _host(loader, variables, host) -> Host:
    all_vars = variables.get_vars(host=host, include_hostvars=False)
    plain = {name: _plain(value) for name, value in all_vars.items() if name not in _MAGIC_VARS}
    for name in _RENDERED_VARS:
        value = all_vars.get(name)
        if isinstance(value, str) and "{{" in value:
            plain[name] = _render(loader, all_vars, host.name, name, value)
    groups = tuple(group.name for group in host.get_groups() if group.name != "all")
    return Host(name=host.name, vars=plain, groups=groups)


def _render(loader, all_vars: dict, host_name: str, name: str, value: str) -> Any:
    from ansible.errors import AnsibleError
    from ansible.template import Templar

    try:
        return _plain(Templar(loader=loader, variables=all_vars).template(value))
    except AnsibleError as exc:
        raise ConfigError(f"host {host_name}: {name}: cannot render {value!r}: {first_line(exc)}") from None


def _plain(value: Any) -> Any:
    """Ansible's tagged str/int/dict subclasses -> the builtin types (safe to dump, compare, pickle)."""
    if isinstance(value, bool) or value is None:
        return value
    if type(value).__name__ == "EncryptedString":  # an inline `!vault` value: decrypted like Ansible does
        return _decrypted(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _decrypted(value) -> str:
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import AnsibleVaultError

    try:
        return str(value)
    except (ReferenceError, AnsibleError) as exc:  # ReferenceError: no vault secrets at all
        raise AnsibleVaultError(f"cannot decrypt an inline !vault value: {exc}") from None


def _is_vault_error(exc: BaseException | None) -> bool:
    from ansible.parsing.vault import AnsibleVaultError

    while exc is not None:
        if isinstance(exc, AnsibleVaultError) or "vault" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _vault_problem(sources: list[str], exc: BaseException) -> str:
    """One line naming the vault-encrypted file(s) and what to pass. Ansible's error does not say which
    file it could not decrypt, so the inventory's own files are searched for vault headers."""
    from fleetdeploy.vault import HOW_TO_PASS, vault_secrets_given

    vaulted = [str(path) for path in _vaulted_files(sources)] or sources
    if vault_secrets_given():
        return f"{', '.join(vaulted)}: the vault password given does not decrypt it ({first_line(exc)})"
    return f"{', '.join(vaulted)}: vault-encrypted and no vault password was given; {HOW_TO_PASS}"


def _vaulted_files(sources: list[str]) -> list[Path]:
    found = []
    for source in map(Path, sources):
        # A folder source: every file in it; a file: itself and the group_vars/host_vars beside it.
        folders = [source] if source.is_dir() else [source.parent / "group_vars", source.parent / "host_vars"]
        candidates = [source] if source.is_file() else []
        for folder in filter(Path.is_dir, folders):
            candidates += sorted(path for path in folder.rglob("*") if path.is_file())
        for path in dict.fromkeys(candidates):
            try:
                text = path.read_bytes()[:1_000_000]
            except OSError:
                continue
            if text.startswith(b"$ANSIBLE_VAULT") or b"!vault" in text:
                found.append(path)
    return found


def _unique(items: list[str]) -> list[str]:
    """Without repeats: Ansible's `auto` and `yaml` plugins fail the same YAML file with the same words."""
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(re.sub(r" \([^()]*\)$", "", item.split(" plugin. ", 1)[-1]), item)
    return list(seen.values())


@contextlib.contextmanager
def _captured_ansible_warnings() -> Iterator[list[str]]:
    """Collect the warnings Ansible prints while parsing (its only report of why a source failed)
    instead of letting them reach the user's terminal unformatted."""
    from ansible.utils.display import Display

    display = Display()
    messages: list[str] = []

    def warning(msg, *args, **kwargs):
        messages.append(str(msg))

    def error_as_warning(msg, exception, *args, **kwargs):
        reason = first_line(exception)
        origin = getattr(exception, "obj", None)
        if getattr(origin, "path", None) and getattr(origin, "line_num", None):
            reason += f" ({origin.path}:{origin.line_num}" + (
                f":{origin.col_num})" if origin.col_num else ")"
            )
        messages.append(f"{msg} {reason}" if msg else reason)

    display.warning = warning
    display.error_as_warning = error_as_warning
    try:
        yield messages
    finally:
        del display.warning
        del display.error_as_warning
