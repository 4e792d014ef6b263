"""The rendered project's ansible.cfg: the site's own Ansible configuration, found where Ansible itself
looks for it, with the few settings fleetdeploy needs on top (docs/apply.md, "Your Ansible setup").

A site reaches its machines through its ansible.cfg: `remote_user`, a ProxyJump in `ssh_args`, a
private key, a vault password file. The runs fleetdeploy starts use the rendered project's ansible.cfg
(ANSIBLE_CONFIG points at it, and AWX reads a project's own), so that file starts as a copy of the
site's: every section and setting, paths made absolute (they were relative to the site's file). Then
fleetdeploy sets what it cannot work without, and says when that replaces one of the site's values:
the inventory (the copy given to fleetdeploy), its roles first on the roles path, and host-key checking
(nodes are identified by their host keys). Forks, pipelining, retry files and the interpreter are only
defaults: the site's values win, and `--forks` wins over both."""

from __future__ import annotations

import configparser
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Set whatever the site's file says (section, key) -> value; roles_path is the site's appended to ours.
_REQUIRED = {
    ("defaults", "inventory"): "../inventory",
    ("defaults", "host_key_checking"): "True",
}
_DEFAULTS = {
    ("defaults", "retry_files_enabled"): "False",
    ("defaults", "interpreter_python"): "auto_silent",
    # Fewer SSH round trips per task; needs sudo without `requiretty` (the default on current systems).
    ("ssh_connection", "pipelining"): "True",
}
DEFAULT_FORKS = 10
# Settings whose value is a path (or a list of paths): relative ones were relative to the site's file.
_PATH_KEYS = {
    "inventory", "private_key_file", "vault_password_file", "log_path", "roles_path", "collections_path",
    "collections_paths", "library", "module_utils", "action_plugins", "callback_plugins",
    "connection_plugins", "filter_plugins", "lookup_plugins", "inventory_plugins", "strategy_plugins",
    "test_plugins", "vars_plugins", "become_plugins", "cache_plugins", "cliconf_plugins", "httpapi_plugins",
    "netconf_plugins", "terminal_plugins", "doc_fragment_plugins", "fact_caching_connection",
}
_HEADER = """\
# Written by fleetdeploy. Used by ansible-runner and by plain ansible-playbook run from this folder (the
# folder must not be world-writable, or Ansible ignores this file).
# {origin}
# fleetdeploy sets: the inventory (../inventory, the copy it was given), its roles first on roles_path,
# host_key_checking = True (an unknown or changed host key stops the run).
"""


@dataclass(frozen=True)
class AnsibleConfig:
    text: str
    site_file: Path | None  # the site's ansible.cfg it starts from, if any
    notes: tuple[str, ...]  # what fleetdeploy replaced in it, one line each


def site_config_file(
    cwd: Path | None = None, environ: Mapping[str, str] = os.environ, home: Path | None = None
) -> Path | None:
    """The file Ansible would read: ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg."""
    cwd = Path.cwd() if cwd is None else cwd
    home = Path.home() if home is None else home
    candidates = []
    if environ.get("ANSIBLE_CONFIG"):
        named = Path(os.path.expanduser(environ["ANSIBLE_CONFIG"]))
        candidates.append(named / "ansible.cfg" if named.is_dir() else named)
    candidates += [cwd / "ansible.cfg", home / ".ansible.cfg", Path("/etc/ansible/ansible.cfg")]
    return next((path.resolve() for path in candidates if path.is_file()), None)


def project_config(site_file: Path | None, forks: int | None = None) -> AnsibleConfig:
    """The rendered project's ansible.cfg, from the site's file (or none)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys as written
    notes: list[str] = []
    if site_file is not None:
        try:
            parser.read_string(site_file.read_text(encoding="utf-8"), source=str(site_file))
        except (OSError, configparser.Error) as exc:
            from fleetdeploy.errors import ConfigError

            raise ConfigError(f"{site_file}: cannot be read as Ansible's configuration: {exc}") from None
        _absolute_paths(parser, site_file.parent)
    for section, key in {*_REQUIRED, *_DEFAULTS, ("defaults", "roles_path"), ("defaults", "forks")}:
        if not parser.has_section(section):
            parser.add_section(section)
    for (section, key), value in _REQUIRED.items():
        theirs = parser.get(section, key, fallback=None)
        if theirs is not None and theirs.strip().lower() != value.lower():
            notes.append(f"{site_file}: [{section}] {key} = {theirs} is replaced by {value} ({_why(key)})")
        parser.set(section, key, value)
    for (section, key), value in _DEFAULTS.items():
        if parser.get(section, key, fallback=None) is None:
            parser.set(section, key, value)
    # Ansible reads pipelining in two places ([connection], which the base setting ANSIBLE_PIPELINING
    # follows, and the ssh plugin's own): both say what the site's (or our default) says.
    if not parser.has_section("connection"):
        parser.add_section("connection")
    if parser.get("connection", "pipelining", fallback=None) is None:
        parser.set("connection", "pipelining", parser.get("ssh_connection", "pipelining"))
    theirs = parser.get("defaults", "roles_path", fallback="")
    parser.set("defaults", "roles_path", ":".join(["roles", *([theirs] if theirs else [])]))
    if forks is not None:
        parser.set("defaults", "forks", str(forks))
    elif parser.get("defaults", "forks", fallback=None) is None:
        parser.set("defaults", "forks", str(DEFAULT_FORKS))
    out = io.StringIO()
    parser.write(out)
    origin = f"Starts from the site's {site_file}." if site_file else "No site ansible.cfg was found."
    return AnsibleConfig(_HEADER.format(origin=origin) + out.getvalue(), site_file, tuple(notes))


def _why(key: str) -> str:
    if key == "inventory":
        return "the inventory given to fleetdeploy is the one it runs on"
    return "nodes are identified by their SSH host keys"


def _absolute_paths(parser: configparser.ConfigParser, base: Path) -> None:
    for section in parser.sections():
        for key, value in parser.items(section, raw=True):
            if key in _PATH_KEYS and value.strip():
                parser.set(section, key, os.pathsep.join(_absolute(part, base) for part in value.split(os.pathsep)))


def _absolute(path: str, base: Path) -> str:
    path = path.strip()
    if not path or path.startswith(("~", "/", "$")):
        return path  # home, absolute, or an environment variable: Ansible expands them itself
    return str((base / path).resolve())
