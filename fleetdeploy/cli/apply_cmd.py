"""`fleetdeploy apply` and `fleetdeploy render`: the deploy workflow from the command line."""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from pathlib import Path

import click


def _environment_option(use_function: str, *names, **settings):
    """A flag that puts what Ansible needs into this process's environment, which the inventory is read
    in and the Ansible runs start with: vault identities (fleetdeploy.vault.use_vault) or the become
    password file (fleetdeploy.become.use_become_password). The command itself never sees the value."""

    def use(_ctx, param, value):
        if value:
            import importlib

            from fleetdeploy.errors import ConfigError

            module, function = use_function.rsplit(".", 1)
            try:
                getattr(importlib.import_module(module), function)(**{param.name: value})
            except ConfigError as exc:
                raise click.BadParameter(str(exc)) from None

    return click.option(*names, callback=use, expose_value=False, **settings)


_VAULT = "fleetdeploy.vault.use_vault"
_BECOME = "fleetdeploy.become.use_become_password"
_OPTIONS = "fleetdeploy.run.options"


def vault_options(command):
    """The vault flags, as ansible-playbook has them: for the inventory's vaulted values, or a vaulted file
    the command reads (a keys file)."""
    for option in (
        _environment_option(
            _VAULT, "--vault-password-file", "password_files", multiple=True, help="File with the vault password."
        ),
        _environment_option(
            _VAULT, "--vault-id", "vault_ids", multiple=True, help="Vault identity, [LABEL@]FILE (repeatable)."
        ),
        _environment_option(_VAULT, "--ask-vault-pass", "ask", is_flag=True, help="Ask for the vault password."),
    ):
        command = option(command)
    return command


def _inventory_arg(command=None, *, runs_ansible: bool = True, becomes: bool = True, optional: bool = False):
    """The INVENTORY argument (or -i INVENTORY, as Ansible users type it) with the vault flags (the
    inventory may hold vaulted values); the become flags where the command works as root on the nodes;
    and where it runs Ansible, Ansible's: -e, --forks, -v. A command takes no flag it would ignore.
    `optional`: the command has another way to name its target (it gets inventory=None then)."""
    if command is None:
        return functools.partial(_inventory_arg, runs_ansible=runs_ansible, becomes=becomes, optional=optional)
    running = (
        _environment_option(
            f"{_OPTIONS}.use_verbosity", "-v", "--verbose", "count", count=True,
            help="Show Ansible's own output as it runs (-vv… passes -v… on to Ansible).",
        ),
        _environment_option(
            f"{_OPTIONS}.add_extra_vars", "-e", "--extra-vars", "values", multiple=True,
            help="Extra variables for the Ansible runs, as ansible-playbook takes them: key=value, JSON/YAML, @FILE.",
        ),
        _environment_option(
            f"{_OPTIONS}.use_forks", "--forks", "forks", type=click.IntRange(min=1),
            help="How many nodes Ansible works on at once (default: the site's ansible.cfg, else 10).",
        ),
    )
    becoming = (
        _environment_option(
            _BECOME, "--become-password-file", "password_file", help="File with the become (sudo) password."
        ),
        _environment_option(
            _BECOME, "-K", "--ask-become-pass", "ask", is_flag=True, help="Ask for the become (sudo) password."
        ),
    )
    for option in (*(running if runs_ansible else ()), *(becoming if becomes else ())):
        command = option(command)
    command = vault_options(command)

    @functools.wraps(command)
    def with_one_inventory(*args, inventory: Path | None, inventory_option: Path | None, **kwargs):
        if inventory is not None and inventory_option is not None:
            raise click.UsageError("give the inventory once: INVENTORY or -i INVENTORY")
        if inventory is None and inventory_option is None and not optional:
            raise click.UsageError("give the inventory once: INVENTORY or -i INVENTORY")
        return command(*args, inventory=inventory or inventory_option, **kwargs)

    with_one_inventory = click.option(
        "-i", "--inventory", "inventory_option", type=click.Path(path_type=Path), help="The inventory (or INVENTORY)."
    )(with_one_inventory)
    return click.argument("inventory", type=click.Path(path_type=Path), required=False)(with_one_inventory)

_spec_opt = click.option(
    "-f",
    "--file",
    "spec_path",
    type=click.Path(path_type=Path),
    default=Path("fleetdeploy.yml"),
    show_default=True,
    help="The deployment spec.",
)
_limit_opt = click.option("--limit", "-l", help="Only these hosts or groups (Ansible's pattern syntax).")


def _console():
    from rich.console import Console

    # soft_wrap: paths and release lines stay whole in CI logs and when piped (tables still fit).
    return Console(stderr=False, highlight=False, soft_wrap=True)


def _say(console):
    # Build and pip output holds brackets that rich would read as markup.
    return lambda line: console.print(f"  {line}", markup=False)


_lock_wait_opt = click.option(
    "--lock-wait",
    type=float,
    default=0,
    metavar="SECONDS",
    help="Wait this long for another deploy of the service to finish instead of failing at once.",
)


@click.command()
@_inventory_arg
@_spec_opt
@_limit_opt
@_lock_wait_opt
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Only the nodes the last apply of this service left undone (failed, unreachable, rolled back, not started).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Dry run: say per node what apply would send, start and switch to, and change nothing on the nodes.",
)
@click.option("--diff", is_flag=True, help="Show per node how the release it serves differs from the new one.")
@click.option(
    "--skip-preflight", is_flag=True, help="Do not run the preflight checks (`fleetdeploy check`) first."
)
def apply(
    inventory: Path,
    spec_path: Path,
    limit: str | None,
    lock_wait: float,
    retry_failed: bool,
    check: bool,
    diff: bool,
    skip_preflight: bool,
):
    """Deploy the spec's scoring service to every node of INVENTORY, batch by batch, and check /score on each."""
    from fleetdeploy.cli.preflight_cmd import preflight_before_apply
    from fleetdeploy.cli.progress import make_progress, print_rollout, print_summary
    from fleetdeploy.deploy import apply as workflow
    from fleetdeploy.run.options import verbosity

    verbose = verbosity()

    console = _console()
    if retry_failed:
        limit = _retry_limit(spec_path, limit, console)
    # What preflight read (the spec, the inventory) the plan takes as it is: parsing them again costs seconds.
    loaded = None if skip_preflight else preflight_before_apply(console, inventory, spec_path, limit, dry_run=check)
    if check:
        sys.exit(_dry_run(console, inventory, spec_path, limit, diff=diff, every_file=bool(verbose), loaded=loaded))
    plan = workflow.plan(
        inventory, spec_path, limit=limit, say=_say(console), every_file=bool(verbose), loaded=loaded
    )
    console.print(
        f"release {plan.prepared.release} -> {len(plan.inventory.hosts)} node(s); run folder {plan.run_dir}"
    )
    _print_host_releases(console, plan)
    if diff:
        _print_checks(console, plan, diff=True, actions=False)
    with interruptible(console) as (stop, cancel), make_progress(console) as progress:
        outcome = workflow.execute(
            plan,
            on_event=progress,
            stop=stop,
            cancel=cancel,
            lock_wait=lock_wait,
            say=_say(console),
        )
    print_summary(console, outcome.result, verbose=bool(verbose))
    print_rollout(console, outcome.rollout)
    sys.exit(0 if outcome.succeeded else 1)


def _dry_run(
    console, inventory: Path, spec_path: Path, limit: str | None, *, diff: bool, every_file: bool, loaded=None
) -> int:
    """apply --check: the release prepared as apply prepares it (in a scratch folder: no run is recorded),
    the nodes asked, nothing changed on them. 0 when every node could be asked, 1 otherwise."""
    import tempfile

    from fleetdeploy.deploy import apply as workflow

    with tempfile.TemporaryDirectory(prefix="fleetdeploy-check-") as scratch:
        plan = workflow.plan(
            inventory, spec_path, limit=limit, say=_say(console), run_dir=Path(scratch), every_file=every_file,
            loaded=loaded,
        )
        console.print(f"check: release {plan.prepared.release} -> {len(plan.inventory.hosts)} node(s); nothing is changed")
        _print_host_releases(console, plan)
        checks = _print_checks(console, plan, diff=diff, actions=True)
    return 0 if all(node.reachable and not node.error for node in checks.values()) else 1


def _print_checks(console, plan, *, diff: bool, actions: bool) -> dict:
    from fleetdeploy.deploy.check import check_fleet

    checks = check_fleet(plan)
    for node in checks.values():
        if node.error:
            console.print(f"{node.host}: cannot be asked: {node.error}", markup=False, style="red")
            continue
        if actions:
            if not node.actions:
                console.print(f"{node.host}: serves {node.serving} already: nothing to do", markup=False)
            else:
                console.print(f"{node.host}: serves {node.serving or 'nothing'}; apply would:", markup=False)
                for action in node.actions:
                    console.print(f"  {action}", markup=False)
        if diff:
            release = plan.release_of(node.host)
            if node.differences:
                console.print(f"{node.host}: {node.serving} -> {release}:", markup=False)
                for difference in node.differences:
                    console.print(f"  {difference}", markup=False)
            elif node.serving and node.serving != release:
                console.print(f"{node.host}: no difference in code, models or settings (environment only)", markup=False)
    return checks


def _print_host_releases(console, plan) -> None:
    """The hosts whose inventory overrides spec settings, each with its own release and what differs."""
    from fleetdeploy.spec.overrides import differences

    for name, host in plan.hosts.items():
        changed = differences(plan.spec, host)
        if changed:
            settings = ", ".join(f"{key} {theirs} -> {mine}" for key, (theirs, mine) in changed.items())
            console.print(f"  {name}: release {plan.release_of(name)} (inventory: {settings})", markup=False)


def _retry_limit(spec_path: Path, limit: str | None, console) -> str:
    """The --limit that retries what the last apply left undone; exits 0 when it left nothing."""
    from fleetdeploy.deploy.retry import hosts_to_retry
    from fleetdeploy.spec import load_spec

    if limit:
        raise click.UsageError("--retry-failed picks the nodes itself: leave out --limit")
    service = load_spec(spec_path).service
    hosts, run = hosts_to_retry(service)
    if not hosts:
        console.print(f"the last apply of {service} (run folder {run}) left no node undone: nothing to retry")
        sys.exit(0)
    console.print(f"retrying what the last apply of {service} left undone (run folder {run}): {', '.join(hosts)}")
    return ",".join(hosts)


@contextmanager
def interruptible(console):
    """Ctrl-C once finishes the batch in progress; again, or SIGTERM, stops at once."""
    import signal
    import threading

    from fleetdeploy.deploy.session import interrupt_handlers

    stop, cancel = threading.Event(), threading.Event()
    handlers = interrupt_handlers(stop, cancel, _say(console))
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield stop, cancel
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@click.command()
@_inventory_arg(runs_ansible=False, becomes=False)
@_spec_opt
@_limit_opt
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder to write.")
def render(inventory: Path, spec_path: Path, limit: str | None, output: Path):
    """Write the Ansible project apply would run, for plain ansible-playbook or AWX."""
    from fleetdeploy.deploy import apply as workflow

    console = _console()
    plan = workflow.plan(inventory, spec_path, limit=limit, say=_say(console), run_dir=output, every_file=True)
    rendered = workflow.render(plan, self_contained=True)
    for note in rendered.config_notes:
        console.print(note, markup=False)
    console.print(f"wrote {rendered.private_data_dir}; see {rendered.project_dir / 'README.md'} to run it")
    if plan.prepared.secrets_file:
        # The values are never written into a folder that may be committed or synced (AWX).
        console.print(
            f"the spec's secrets ({', '.join(plan.spec.secrets)}) are not in it: to run it, pass "
            "-e fleet_artifacts_secrets_src=FILE, a JSON object of name -> value (vault-encrypt it: "
            "Ansible's copy decrypts it on the way)",
            markup=False,
        )
