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
    keys_file: Path | None = None  # endpoint.auth: key: where the service's keys are kept
    tls: bool = False  # endpoint.tls: the front speaks https only
    ca_file: Path | None = None  # what https probes trust (the fleet CA, endpoint.ca_file); None: the system's

    def context(self):
        """The TLS context probes use (None without TLS)."""
        if not self.tls:
            return None
        from fleetdeploy.health.probe import tls_context

        return tls_context(self.ca_file)

    def urls(self, hosts) -> dict[str, str]:
        """{host name: the service's base URL on it} for `hosts` (their own port overrides and scoring URLs,
        https when the spec turns TLS on): what status, invoke and apply's /version check ask."""
        from fleetdeploy.inventory import scoring_url
        from fleetdeploy.spec.overrides import host_port

        return {host.name: scoring_url(host, host_port(host, self.port), self.tls) for host in hosts}

    def key(self) -> str | None:
        """The key requests to the service send (the primary), when the spec turns key auth on."""
        if self.keys_file is None:
            return None
        from fleetdeploy.keys import read_keys

        return read_keys(self.keys_file).primary


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
    return target_of(load_spec(path), port, path)


def target_of(spec, port: int | None = None, spec_path: Path | None = None) -> Target:
    """How a loaded spec's service is reached: its port, sample request, TLS and key."""
    return Target(
        service=spec.service,
        port=port or spec.port,
        sample_body=spec.health.sample_request_body(),
        request_timeout=spec.health.request_timeout,
        spec_path=spec_path,
        keys_file=spec.keys_path,
        tls=spec.endpoint.tls != "none",
        ca_file=spec.tls_trust,
    )
