"""Each node's certificate for `endpoint.tls` (docs/security.md), as per-host role variables: where the
certificate and key are on the controller (fleet_front copies them to the node as one 0600 file) and a
fingerprint of them, so that a renewed certificate makes a node "not there" for the next apply.

- `fleet-ca`: fleetdeploy's CA issues (and renews) one per host, naming the host's inventory name, its
  `ansible_host` and its scoring URLs' hosts;
- `files`: the site's own, from each host's `fleetdeploy_tls_cert` and `fleetdeploy_tls_key` inventory
  variables (paths on the controller, relative to the inventory file; vault-encrypted files are fine).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.inventory import SCORING_URL_VAR, SCORING_URLS_VAR, Inventory
from fleetdeploy.spec.model import Spec

CERT_VAR, KEY_VAR = "fleetdeploy_tls_cert", "fleetdeploy_tls_key"


def tls_host_variables(
    spec: Spec, inventory: Inventory, inventory_path: Path, say: Callable[[str], None] = lambda line: None
) -> dict[str, dict]:
    """{host: fleet_front's TLS variables} for every targeted host; {} without TLS."""
    if spec.endpoint.tls == "none":
        return {}
    files = _fleet_ca_files(spec, inventory, say) if spec.endpoint.tls == "fleet-ca" else _site_files(
        inventory, Path(inventory_path)
    )
    return {
        host: {
            "fleet_front_tls_cert_src": str(cert),
            "fleet_front_tls_key_src": str(key),
            "fleet_front_tls_fingerprint": _fingerprint(cert, key),
        }
        for host, (cert, key) in files.items()
    }


def _fleet_ca_files(spec: Spec, inventory: Inventory, say) -> dict[str, tuple[Path, Path]]:
    from fleetdeploy.fleet_ca import FleetCA, node_names

    ca = FleetCA(spec.fleet_ca_dir)
    if ca.ensure():
        say(f"tls: made the fleet's CA in {ca.folder} (clients trust it: `fleetdeploy ca export -f {spec.source}`)")
    found, issued = {}, []
    for host in inventory:
        urls = [host.vars.get(SCORING_URL_VAR) or "", *dict(host.vars.get(SCORING_URLS_VAR) or {}).values()]
        made = ca.node_certificate(host.name, node_names(host.name, host.address, [str(u) for u in urls if u]))
        found[host.name] = (made.cert, made.key)
        if made.issued:
            issued.append(host.name)
    if issued:
        say(f"tls: issued certificates for {', '.join(issued)} (fleet CA {ca.folder})")
    return found


def _site_files(inventory: Inventory, inventory_path: Path) -> dict[str, tuple[Path, Path]]:
    base = inventory_path.parent if inventory_path.is_file() else inventory_path
    found, missing = {}, []
    for host in inventory:
        paths = [host.vars.get(CERT_VAR), host.vars.get(KEY_VAR)]
        if not all(paths):
            missing.append(host.name)
            continue
        cert, key = ((base / Path(str(path)).expanduser()).resolve() for path in paths)
        check_pair(f"{inventory_path}: host {host.name}", cert, key)
        found[host.name] = (cert, key)
    if missing:
        raise ConfigError(
            f"{inventory_path}: endpoint.tls is files, and host(s) {', '.join(missing)} have no {CERT_VAR} and "
            f"{KEY_VAR} (paths on this controller to the node's certificate and private key; host_vars or "
            "group_vars, vault-encrypted files are fine)"
        )
    return found


def check_pair(where: str, cert: Path, key: Path) -> None:
    """A site's certificate and key, refused before anything is built when the front could not serve
    them, by the checks `fleetdeploy serve --tls-cert` makes: missing, the key readable by others, the
    certificate expired, the key not the certificate's. Vault-encrypted files are checked on the node
    instead (HAProxy's config check), since their content is known only there."""
    from fleetdeploy.serve.tls import server_context
    from fleetdeploy.vault import is_vaulted

    if cert.is_file() and key.is_file() and (is_vaulted(cert.read_bytes()) or is_vaulted(key.read_bytes())):
        return
    server_context(cert, key, (f"{where}: {CERT_VAR}", f"{where}: {KEY_VAR}"))


def _fingerprint(cert: Path, key: Path) -> str:
    digest = hashlib.sha256()
    for path in (cert, key):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def with_tls(
    per_host: dict[str, dict], tls: dict[str, dict], base: dict, digest: Callable[[dict], str]
) -> dict[str, dict]:
    """The project's per-host variables with each host's TLS variables added, and its desired digest made
    again over all that host's variables (a renewed certificate must be a change for the fast path)."""
    merged = {host: dict(values) for host, values in per_host.items()}
    for host, extra in tls.items():
        mine = {**base, **merged.get(host, {}), **extra}
        mine.pop("fleet_rollout_desired", None)
        merged[host] = {**merged.get(host, {}), **extra, "fleet_rollout_desired": digest(mine)}
    return merged
