# Where the controller reaches one service on one node, as a Jinja filter for fleet_verify's defaults.
# fleetdeploy's own probes (status, invoke, apply's /version check) load this very file
# (fleetdeploy/inventory.py), so the role and the CLI cannot disagree on a node's address.
from __future__ import annotations

import ipaddress


def scoring_url(urls, explicit, address, port, tls=False):
    """The URL of the service on `port`: the host's per-port map `fleetdeploy_scoring_urls` (keys are
    ports, as numbers or strings) when it names the port; else `fleetdeploy_scoring_url`, in which
    `{port}` stands for the service's port (one URL for every service behind a NAT or a proxy); else
    http://<address>:<port>, an IPv6 address in brackets. With `tls` (endpoint.tls) an http:// URL is
    the same address over https://: the front speaks nothing else."""
    return _over_tls(_url(urls, explicit, address, int(port)), tls)


def _url(urls, explicit, address, port):
    for key, url in dict(urls or {}).items():
        if str(key).strip() == str(port) and url:
            return str(url).rstrip("/")
    if explicit:
        return str(explicit).replace("{port}", str(port)).rstrip("/")
    address = str(address)
    try:
        if ipaddress.ip_address(address).version == 6:
            address = f"[{address}]"
    except ValueError:
        pass
    return f"http://{address}:{port}"


def _over_tls(url, tls):
    if tls and url.startswith("http://"):
        return "https://" + url[len("http://"):]
    return url


class FilterModule:
    def filters(self):
        return {"fleet_scoring_url": scoring_url}
