"""The role variables every runtime shares: the release's identity and artifacts (fleet_artifacts), the
rollout (deploy.yml's serial, fleet_rollout), the check from the controller (fleet_verify), the digest of
what a deploy wants; and the few values the day-two operations need. Each runtime adds its own roles'
(fleetdeploy.runtimes). With those, the only place that knows both the spec's and the roles' names
(roles/*/defaults/main.yml)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import PurePath

from fleetdeploy.deploy.release import PreparedRelease
from fleetdeploy.keys import read_keys
from fleetdeploy.preflight import Needs
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.overrides import HostSpec


def desired_digest(variables: dict) -> str:
    """What a deploy wants on a node, as one digest (roles/fleet_rollout's fast path compares it with the
    node's record of its last deploy): every value but the controller's file paths (what they hold is in
    the release id: image id, model and code hashes), and the roles' and playbooks' own code."""
    from fleetdeploy.render import ansible_sources
    from fleetdeploy.render.sources import sources_digest

    def without_paths(value):
        if isinstance(value, dict):
            return {key: without_paths(item) for key, item in value.items() if not isinstance(item, PurePath)}
        if isinstance(value, (list, tuple)):
            return [without_paths(item) for item in value if not isinstance(item, PurePath)]
        return value

    wanted = json.dumps(without_paths(variables), sort_keys=True, default=str)
    return hashlib.sha256(f"{wanted}\0{sources_digest(ansible_sources())}".encode()).hexdigest()


def release_variables(spec: Spec, prepared: PreparedRelease, *, service_vars: dict, manifest: dict) -> dict:
    """What every runtime ships the same way: the release's identity and fleet_artifacts' variables,
    with the release manifest (`manifest` adds what the runtime runs from: an image, an environment)."""
    staged = prepared.staged
    return {
        "fleetdeploy_service": spec.service,
        "fleetdeploy_runtime": spec.runtime,
        "fleetdeploy_release": prepared.release,
        **rollout_variables(spec),
        # deploy.yml's preflight play (fleetdeploy apply runs its own first and skips it).
        "fleet_preflight_service": spec.service,
        "fleet_preflight_port": spec.port,
        "fleet_preflight_needs": asdict(Needs.from_spec(spec)),
        "fleet_artifacts_service": spec.service,
        "fleet_artifacts_release": prepared.release,
        "fleet_artifacts_models": _shipped_models(prepared),
        "fleet_artifacts_code_hash": staged.code_hash,
        "fleet_artifacts_code_archive": staged.code_archive,
        "fleet_artifacts_code_bytes": staged.code_bytes,
        # The secrets' file on the controller: copied, never read into a variable (no value in any output).
        "fleet_artifacts_secrets_src": prepared.secrets_file or "",
        "fleet_artifacts_secret_names": sorted(spec.secrets) if prepared.secrets_file else [],
        "fleet_artifacts_release_manifest": {
            "release": prepared.release,
            "service": spec.service,
            "runtime": spec.runtime,
            "settings": prepared.settings,
            **manifest,
            # What rollback needs to start this release again with nothing from the controller.
            "service_vars": service_vars,
            **staged.manifest(),
        },
    }


def server_variables(prefix: str, spec: Spec, prepared: PreparedRelease) -> dict:
    """How the scoring server runs, the same in a container (prefix fleet_service_) and in a systemd
    unit (fleet_unit_): its options, the readiness check, the environment, whether secrets ship."""
    values = {
        "workers": spec.server.workers,
        "timeout": int(spec.server.timeout),
        "max_body": str(spec.server.max_body),
        "log_level": spec.server.log_level,
        "sample_request": spec.health.sample_request_body() or "",
        "ready_timeout": int(spec.health.ready_timeout),
        "env": dict(spec.env),
        "secrets": prepared.secrets_file is not None,
    }
    return {prefix + name: value for name, value in values.items()}


def rollout_variables(spec: Spec) -> dict:
    """The rollout as deploy.yml runs it: `serial` (Ansible's batch rules, which rollout.batch follows)
    and fleet_rollout's gate, budget and rollback mode."""
    return {
        "fleetdeploy_serial": list(spec.rollout.batch),
        "fleet_rollout_max_fail": spec.rollout.max_fail,
        "fleet_rollout_pause": spec.rollout.pause,
        "fleet_rollout_rollback": spec.rollout.rollback,
    }


def _shipped_models(prepared: PreparedRelease) -> list[dict]:
    return [
        {
            "name": model.name,
            "version": model.version,
            "src": model.dir,
            "bytes": model.bytes,
            "files": [{"path": path, "sha256": sha} for path, sha in sorted(model.files.items())],
        }
        for model in prepared.staged.models
    ]


def service_operation_variables(spec: Spec) -> dict:
    """What rollback, releases and unlock need: no release, the service and how to check it."""
    return {
        "fleetdeploy_service": spec.service,
        "fleet_service_name": spec.service,
        **verify_variables(spec, expect_response=False),
    }


def verify_variables(spec: Spec, *, expect_response: bool = True) -> dict:
    """fleet_verify's variables. A rollback does not expect the spec's answer: the release it goes back
    to may answer differently."""
    sample = spec.health.sample_request_body() or ""
    expected = spec.health.expected_response if expect_response else None
    return {
        **endpoint_variables(spec),
        "fleet_verify_port": spec.port,
        "fleet_verify_ready_timeout": int(spec.health.ready_timeout),
        "fleet_verify_sample_request": sample,
        "fleet_verify_expected_response": json.dumps(expected) if expected is not None else "",
        "fleet_verify_request_timeout": int(spec.health.request_timeout),
    }


def endpoint_variables(spec: Spec) -> dict:
    """How clients reach the service (docs/security.md). TLS: whether the front speaks it and what the
    checks from the controller trust (each node's certificate is per host: tls_host_variables). Key auth:
    the hashes the node front checks (the keys', and the metrics token's), and the keys file the checks read their key from (never the key
    itself in a variable). Every entry point that writes the front's config carries them (with
    verify_variables), so no run turns TLS or auth off."""
    tls = spec.endpoint.tls != "none"
    trust = spec.tls_trust
    path = spec.keys_path
    keys = read_keys(path) if path else None
    return {
        "fleet_front_tls": tls,
        "fleet_verify_tls": tls,
        "fleet_verify_ca_file": str(trust) if trust else "",
        "fleet_front_key_hashes": keys.hashes() if keys else [],
        # A metrics token the keys file holds opens /metrics only while the spec asks for one.
        "fleet_front_metrics_hashes": keys.metrics_hashes() if keys and spec.endpoint.metrics_token else [],
        "fleet_verify_keys_file": str(path) if path else "",
    }


def host_variables(base: dict, hosts: Mapping[str, HostSpec], variables_of: Callable[[Spec], dict]) -> dict[str, dict]:
    """Per host whose inventory overrides spec settings: the variables whose values differ from `base`
    for it, by `variables_of` its effective spec (the project's vars/hosts/<host>.json)."""
    found = {}
    for name, host in hosts.items():
        if host.overrides:
            mine = variables_of(host.spec)
            changed = {key: value for key, value in mine.items() if base.get(key) != value}
            if changed:
                found[name] = changed
    return found
