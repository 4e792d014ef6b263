"""Which service an operation is about, and how to reach it: from the deployment spec (`-f`), or
from `--service`/`--port` when the operator has no copy of the project at hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.errors import ConfigError

NODE_ROOT = "/opt/fleetdeploy"  # fleetdeploy's folder on a node unless the inventory says otherwise


def node_root(host) -> str:
    """fleetdeploy's folder on `host`: its inventory variable `fleetdeploy_root`, which every role reads
    too (roles/*/defaults: fleet_*_root), else /opt/fleetdeploy (design.md "Node layout")."""
    return str(host.vars.get("fleetdeploy_root") or NODE_ROOT)


@dataclass(frozen=True)
class Target:
    service: str
    port: int
    sample_body: str | None = None  # POSTed to /score as the smoke test, when the spec has one
    request_timeout: float = 10.0
    spec_path: Path | None = None


def resolve_target(spec_path: Path | None, service: str | None = None, port: int | None = None) -> Target:
    """`--service` wins over the spec (no spec file is read then); `--port` overrides either."""
    if service:
        from fleetdeploy.spec.model import DEFAULT_PORT, Spec

        try:
            Spec._service(service)  # the spec's own rule for service names
        except ValueError as exc:
            raise ConfigError(f"--service {service!r}: {exc}") from None
        return Target(service=service, port=port or DEFAULT_PORT)
    from fleetdeploy.spec import DEFAULT_SPEC_NAME, load_spec

    path = Path(spec_path or DEFAULT_SPEC_NAME)
    if not path.exists():
        raise ConfigError(
            f"{path}: no such deployment spec; pass -f PATH to the service's fleetdeploy.yml, "
            "or --service NAME (and --port) to name the service directly"
        )
    spec = load_spec(path)
    return Target(
        service=spec.service,
        port=port or spec.port,
        sample_body=spec.health.sample_request_body(),
        request_timeout=spec.health.request_timeout,
        spec_path=path,
    )
