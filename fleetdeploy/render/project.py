"""Writes an ansible-runner private_data_dir that plain `ansible-playbook` can also run:

<run_dir>/project/   playbooks/, roles/, ansible.cfg, vars/fleetdeploy.json, README.md; with
                     `self_contained`, files/: what ships to the nodes, and its SHA256SUMS (bundle.py)
<run_dir>/inventory/ the user's inventory (a folder keeps its group_vars/ and host_vars/)
<run_dir>/env/       envvars, settings (read by ansible-runner only)

The values live in vars/fleetdeploy.json, which every playbook loads (vars_files), not in extra
variables: extra variables outrank everything, even the set_fact with which a role switching a node
back takes the settings of the release it goes back to.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from fleetdeploy.errors import ConfigError
from fleetdeploy.render.ansible_config import project_config
from fleetdeploy.render.bundle import bundle
from fleetdeploy.render.sources import ansible_sources
from fleetdeploy.render.variables import plain_data, to_ansible_json, to_yaml

VARS_FILE = "vars/fleetdeploy.json"  # JSON: Ansible parses it for every task (variables.to_ansible_json)
# A host whose inventory overrides spec settings (spec/overrides.py) has vars/hosts/<host>.json too, loaded
# after VARS_FILE; the others load this empty file in its place (vars_files' first found).
HOSTS_DIR = "vars/hosts"
NO_HOST_FILE = "vars/no-overrides.json"
# Rebuilt on every render; artifacts/ (ansible-runner's results) is left alone.
_RENDERED = ("project", "inventory", "env")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


@dataclass(frozen=True)
class RenderedProject:
    private_data_dir: Path
    playbook: str  # relative to project/, as ansible-runner takes it
    config_notes: tuple[str, ...] = ()  # settings of the site's ansible.cfg fleetdeploy replaced (ansible_config)

    @property
    def project_dir(self) -> Path:
        return self.private_data_dir / "project"

    @property
    def inventory_dir(self) -> Path:
        return self.private_data_dir / "inventory"

    @property
    def vars_file(self) -> Path:
        return self.project_dir / VARS_FILE


def render_project(
    run_dir: Path,
    *,
    inventory_path: Path,
    variables: dict,
    playbook: str = "deploy.yml",
    forks: int | None = None,
    settings: dict | None = None,
    self_contained: bool = False,
    site_config: Path | None = None,
    host_variables: dict[str, dict] | None = None,
) -> RenderedProject:
    """Write the Ansible project for one run into `run_dir` and say how to run it. `self_contained`
    (`fleetdeploy render`): the files the nodes get are copied in and every path is relative, so the
    folder runs the same from anywhere; apply's own runs point at the controller's files instead.
    `site_config`: the site's ansible.cfg the project's starts from (ansible_config.site_config_file()).
    `host_variables`: per host, the values that differ from `variables` for it (its inventory overrides)."""
    run_dir, inventory_path = Path(run_dir), Path(inventory_path)
    sources = ansible_sources()
    if playbook not in sources.playbook_names():
        raise ConfigError(
            f"playbook {playbook!r} does not exist; available: {', '.join(sources.playbook_names())}"
        )
    if not inventory_path.exists():
        raise ConfigError(f"inventory {inventory_path} does not exist")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run directory {run_dir} exists and is not a folder")

    for name in _RENDERED:
        shutil.rmtree(run_dir / name, ignore_errors=True)
    config = project_config(site_config, forks)
    rendered = RenderedProject(run_dir.resolve(), f"playbooks/{playbook}", config.notes)
    _copy_sources(sources, rendered.project_dir)
    _copy_inventory(inventory_path, rendered.inventory_dir)
    host_variables = host_variables or {}
    if self_contained:
        both = bundle({"fleet": variables, "hosts": host_variables}, rendered.project_dir, origin=rendered.private_data_dir)
        variables, host_variables = both["fleet"], both["hosts"]
    _write_templates(rendered, plain_data(variables), self_contained)
    _write_host_variables(rendered.project_dir, plain_data(host_variables))
    (rendered.project_dir / "ansible.cfg").write_text(config.text)
    _write_env(rendered, settings or {}, relocatable=self_contained)
    return rendered


def _copy_sources(sources, project_dir: Path) -> None:
    shutil.copytree(sources.roles, project_dir / "roles", ignore=_IGNORE)
    shutil.copytree(sources.playbooks, project_dir / "playbooks", ignore=_IGNORE)


def _copy_inventory(inventory_path: Path, inventory_dir: Path) -> None:
    """A copy, not a link: the run keeps the inventory it ran with, even if the user edits theirs. The
    copy is the user's only (folders 0700, files 0600): inventories hold passwords, vaulted or not."""
    if inventory_path.is_dir():
        shutil.copytree(inventory_path, inventory_dir, ignore=_IGNORE)
    else:
        inventory_dir.mkdir(parents=True)
        shutil.copy2(inventory_path, inventory_dir / inventory_path.name)
        # Ansible reads group_vars/ and host_vars/ beside an inventory file; they must travel with it.
        for sibling in ("group_vars", "host_vars"):
            if (inventory_path.parent / sibling).is_dir():
                shutil.copytree(inventory_path.parent / sibling, inventory_dir / sibling, ignore=_IGNORE)
    for path in [inventory_dir, *inventory_dir.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("fleetdeploy.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _write_templates(rendered: RenderedProject, data: dict, self_contained: bool) -> None:
    context = {"self_contained": self_contained, "playbook": rendered.playbook, "vars_file": VARS_FILE}
    (rendered.project_dir / "README.md").write_text(_templates().get_template("README.md.j2").render(context))
    rendered.vars_file.parent.mkdir(parents=True, exist_ok=True)
    rendered.vars_file.write_text(to_ansible_json(data))


def _write_host_variables(project_dir: Path, host_variables: dict) -> None:
    (project_dir / NO_HOST_FILE).write_text("{}\n")
    hosts_dir = project_dir / HOSTS_DIR
    hosts_dir.mkdir(parents=True, exist_ok=True)
    for host, values in host_variables.items():
        (hosts_dir / f"{host}.json").write_text(to_ansible_json(values))


def _write_env(rendered: RenderedProject, settings: dict, *, relocatable: bool) -> None:
    env_dir = rendered.private_data_dir / "env"
    env_dir.mkdir(parents=True)
    # ansible-runner runs from project/, where Ansible finds ansible.cfg (and the roles and inventory it
    # names, relative to itself); an absolute path here would tie a copied folder to where it was written.
    located = {"ANSIBLE_CONFIG": str(rendered.project_dir / "ansible.cfg")}
    envvars = {
        **({} if relocatable else located),
        # Nodes are identified by their host keys, under ansible-runner exactly as by hand. Everything
        # else is in ansible.cfg, where the site's own settings are (environment variables would outrank them).
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }
    (env_dir / "envvars").write_text(to_yaml(envvars))
    # fleetdeploy's run module reports progress from events, so Ansible's own screen output would be
    # noise; someone running a rendered folder with ansible-runner wants to see it.
    quiet = {} if relocatable else {"suppress_ansible_output": True}
    (env_dir / "settings").write_text(to_yaml({**quiet, **settings}))
    (env_dir / "envvars").chmod(0o600)
