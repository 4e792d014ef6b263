"""Tunnel transfer for one run of deploy.yml (docs/image.md, "Transfer"): the controller's registry is
started, the release's image pushed to it (only layers it lacks), and the port handed to the run, whose
fleet_image role pulls through an SSH remote forward where a node lacks the image. Without the port
(`transfer: archive`, a user's `registry:`, a runtime without an image, or the rendered project run by
ansible-playbook or AWX) nodes get the tarball, as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fleetdeploy.deploy.release import PreparedRelease
from fleetdeploy.errors import DeployError
from fleetdeploy.spec.model import Spec


def offers_tunnel(spec: Spec, prepared: PreparedRelease) -> bool:
    from fleetdeploy.runtimes.docker import ImageRelease

    image = prepared.runs_from
    return (
        isinstance(image, ImageRelease) and image.archive is not None  # not a user's registry
        and spec.transfer.mode != "archive"
    )


@contextmanager
def tunnel_for_run(spec: Spec, prepared: PreparedRelease, run_dir: Path, say: Callable[[str], None]) -> Iterator[dict]:
    """The extra variables the run gets ({} when no tunnel is offered), with the registry up for the
    block. `transfer: tunnel` raises when the registry cannot run or take the image; `auto` says why
    and lets the run send tarballs."""
    if not offers_tunnel(spec, prepared):
        yield {}
        return
    from fleetdeploy.image.tunnel import push, tunnel_registry

    with ExitStack() as stack:
        try:
            registry = stack.enter_context(tunnel_registry(spec.transfer.port, run_dir / "registry.log", say=say))
            pushed = push(prepared.runs_from.image, registry, say=say)
        except DeployError as exc:
            if spec.transfer.mode == "tunnel":
                raise
            stack.close()
            say(f"transfer: {exc}; nodes that lack the image get the tarball")
            yield {}
            return
        say(f"transfer: nodes that lack the image pull {pushed} through an SSH forward (only missing layers)")
        yield {"fleet_image_tunnel_port": registry.port}


def say_transfers(result, say: Callable[[str], None]) -> None:
    """How each node that lacked the image got it, and why the tunnel was not used where it was offered."""
    for host, info in sorted(result.hosts.items()):
        image = info.report.get("image") or {}
        # zstd where the node has the tool, gzip otherwise (role fleet_image, load-archive.yml).
        tarball = f"a {image['compression']} tarball" if image.get("compression") else "a tarball"
        if image.get("tunnel_problem"):
            say(f"{host}: image sent as {tarball}, not through the tunnel: {image['tunnel_problem']}")
        elif image.get("via") == "tunnel":
            say(f"{host}: image pulled through the SSH tunnel (only the layers it lacked)")
        elif image.get("via") == "archive":
            say(f"{host}: image sent as {tarball}")
        elif image.get("via") == "registry":
            say(f"{host}: image pulled from the registry")
