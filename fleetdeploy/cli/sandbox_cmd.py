"""`fleetdeploy sandbox`: a local fleet of node containers for trying fleetdeploy and for tests."""

import click


def _csv(_ctx, _param, value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _progress(message: str) -> None:
    click.echo(f"==> {message}", err=True)


@click.group()
def sandbox():
    """Create, list and remove local sandbox fleets."""


@sandbox.command()
@click.option("--name", default="default", show_default=True, help="Sandbox name; labels its containers.")
@click.option("--nodes", default=2, show_default=True, type=int, help="Number of node containers.")
@click.option(
    "--distro",
    default="bookworm",
    show_default=True,
    callback=_csv,
    help="Debian release(s), comma-separated, cycled over nodes: bookworm,trixie.",
)
@click.option(
    "--docker",
    "docker_modes",
    default="absent",
    show_default=True,
    callback=_csv,
    help="Docker engine on the nodes: preinstalled or absent (comma list cycles over nodes).",
)
@click.option(
    "--ssh-port", type=int, multiple=True, help="Fixed host SSH port per node (default: ephemeral)."
)
@click.option(
    "--port",
    "extra_ports",
    type=int,
    multiple=True,
    help="Another node port to publish on 127.0.0.1, for a second service on each node (repeatable).",
)
@click.option("--timeout", default=180, show_default=True, help="Seconds to wait for each node to boot.")
def up(name, nodes, distro, docker_modes, ssh_port, extra_ports, timeout):
    """Start a sandbox fleet and print the path of its Ansible inventory."""
    from fleetdeploy.sandbox import lifecycle

    made = lifecycle.up(
        name,
        nodes,
        distro,
        docker_modes,
        extra_ports=list(extra_ports),
        ssh_ports=list(ssh_port) or None,
        ready_timeout=timeout,
        progress=_progress,
    )
    for node in made.nodes:
        click.echo(
            f"{node.host}: {node.container} debian {node.release}, docker {node.docker}, {_reached(node)}",
            err=True,
        )
    click.echo(made.inventory)


@sandbox.command(name="power-cycle")
@click.option("--name", default="default", show_default=True, help="Sandbox whose nodes lose power.")
@click.argument("hosts", nargs=-1)
@click.option("--timeout", default=180, show_default=True, help="Seconds to wait for each node to boot.")
def power_cycle(name, hosts, timeout):
    """Cut the power of HOSTS (default: every node) and boot them again; rewrites the inventory."""
    from fleetdeploy.sandbox import lifecycle

    box = lifecycle.power_cycle(name, hosts, ready_timeout=timeout, progress=_progress)
    for node in box.nodes:
        click.echo(f"{node.host}: {_reached(node)}")
    click.echo(box.inventory)


@sandbox.command()
@click.option("--name", default="default", show_default=True, help="Sandbox to remove.")
@click.option(
    "--all", "everything", is_flag=True, help="Remove every sandbox (e.g. after interrupted test runs)."
)
def down(name, everything):
    """Remove a sandbox's containers, volumes, network and files (nothing else)."""
    from fleetdeploy.sandbox import lifecycle

    names = lifecycle.sandbox_names() if everything else [name]
    if not names:
        click.echo("no sandboxes to remove")
    for each in names:
        removed = lifecycle.down(each)
        click.echo(
            f"removed sandbox {each!r}: {removed.containers} container(s), {removed.volumes} volume(s), "
            f"{removed.networks} network(s)" + (", state folder" if removed.state_folder else "")
        )


@sandbox.command(name="list")
def list_():
    """List sandboxes and their nodes."""
    from fleetdeploy.sandbox import lifecycle

    sandboxes = lifecycle.list_sandboxes()
    if not sandboxes:
        click.echo("no sandboxes (create one with `fleetdeploy sandbox up`)")
    for box in sandboxes:
        click.echo(f"{box.name}  inventory: {box.inventory}")
        for node, state in zip(box.nodes, box.states):
            ssh = node.ports.get(22, "-")
            scoring = node.ports.get(6789, "-")
            click.echo(
                f"  {node.host:<7} {state:<8} debian {node.release:<9} docker {node.docker:<12} "
                f"ssh 127.0.0.1:{ssh}  scoring 127.0.0.1:{scoring}"
            )


@sandbox.command(name="images")
@click.option(
    "--distro", default="bookworm,trixie", show_default=True, callback=_csv, help="Debian releases."
)
@click.option(
    "--docker",
    "docker_modes",
    default="absent,preinstalled",
    show_default=True,
    callback=_csv,
    help="Node variants to build: absent, preinstalled or both.",
)
@click.option(
    "--python-base/--no-python-base",
    default=True,
    show_default=True,
    help="Also build the python base image.",
)
def images(distro, docker_modes, python_base):
    """Build the sandbox node images (and the local python base image) if their recipes changed."""
    from fleetdeploy.errors import ConfigError
    from fleetdeploy.sandbox.images import ensure_images
    from fleetdeploy.sandbox.plan import choice_problems

    problems = choice_problems(distro, docker_modes)
    if problems:
        raise ConfigError("sandbox images: " + "; ".join(problems))
    results = ensure_images(
        distro, [mode == "preinstalled" for mode in docker_modes], python_base=python_base, progress=_progress
    )
    for result in results:
        click.echo(f"{result.tag}: {'built' if result.built else 'up to date'}")


def _reached(node) -> str:
    from fleetdeploy.sandbox.plan import SCORING_PORT

    more = "".join(f", port {port} at {url}" for port, url in node.scoring_urls.items() if port != SCORING_PORT)
    return f"ssh 127.0.0.1:{node.ssh_port}, scoring {node.scoring_url}{more}"
