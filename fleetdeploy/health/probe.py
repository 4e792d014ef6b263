"""Asking each node's scoring service how it is: live (GET /), ready (GET /ready), what it serves
(GET /version) and, given a sample body, how long a real POST /score takes; and `fleetdeploy invoke`'s
one request to every node (`invoke_fleet`).

Plain urllib in a thread pool: probes are a few small requests per node, and a fleet of nodes is
probed in parallel, so a slow or dead node costs one timeout, not one per node.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class NodeProbe:
    url: str
    live: bool = False
    ready: bool = False
    version: dict | None = None
    score_status: int | None = None
    score_latency_ms: float | None = None
    score_answer: str | None = None
    error: str | None = None
    auth: bool | None = None  # whether the node asks for a key (GET /version without one answered 401)
    tls_days_left: int | None = None  # days until the node's certificate expires (https only)
    tls_fingerprint: str | None = None  # sha256 of that certificate (hex), to tell which one each node serves

    @property
    def release(self) -> str | None:
        return (self.version or {}).get("release")


@dataclass(frozen=True)
class Invocation:
    """One POST /score to one node, as `fleetdeploy invoke` reports it."""

    url: str
    status: int | None = None
    latency_ms: float | None = None
    request_id: str | None = None  # the server's x-request-id (ours, echoed): `logs --grep` finds it
    answer: str | None = None
    error: str | None = None  # refused, reset, timed out


def _request(
    url: str,
    *,
    body: bytes | None = None,
    timeout: float,
    headers: dict | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes, Message]:
    """(status, body, the answer's headers: looked up without regard to case)."""
    sent = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=sent, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read(), failed.headers


def _bearer(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """What an https probe trusts: `ca_file` (the fleet CA, endpoint.ca_file) or the system's; the
    hostname is checked against the certificate's names."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def probe_node(
    base_url: str,
    sample_body: str | None = None,
    *,
    timeout: float = 10,
    key: str | None = None,
    context: ssl.SSLContext | None = None,
) -> NodeProbe:
    """`key`: the service's key (endpoint.auth: key), sent wherever the node asks for one; `context`: what
    an https URL's certificate must chain to."""
    base = base_url.rstrip("/")
    if base.startswith("https:") and context is None:
        context = tls_context(None)

    def ask(path: str, *, body: bytes | None = None, headers: dict | None = None):
        return _request(f"{base}{path}", body=body, timeout=timeout, headers=headers, context=context)

    try:
        days, fingerprint = _served_certificate(base, context, timeout) if base.startswith("https:") else (None, None)
        live_status, _, _ = ask("/")
        # Asked without the key first: the answer tells whether the node's front checks keys at all.
        version_status, version_body, _ = ask("/version")
        auth = version_status == 401
        if auth and key:
            version_status, version_body, _ = ask("/version", headers=_bearer(key))
        ready_status, _, _ = ask("/ready", headers=_bearer(key))
        version = json.loads(version_body) if version_status == 200 else None
        probe = NodeProbe(
            base, live=live_status == 200, ready=ready_status == 200, version=version, auth=auth, tls_days_left=days,
            tls_fingerprint=fingerprint,
        )
        if sample_body is None or not probe.ready:
            return probe
        started = time.perf_counter()
        status, answer, _ = ask("/score", body=sample_body.encode(), headers=_bearer(key))
        latency = (time.perf_counter() - started) * 1000
        return replace(
            probe,
            score_status=status,
            score_latency_ms=round(latency, 1),
            score_answer=answer.decode(errors="replace")[:500],
        )
    except (OSError, ValueError) as exc:  # refused, reset, timed out, a certificate refused, or not JSON
        return NodeProbe(base, error=f"{type(exc).__name__}: {exc}")


def _served_certificate(base: str, context: ssl.SSLContext, timeout: float) -> tuple[int, str]:
    """Days until the certificate the node presents expires, and its sha256 fingerprint (one TLS
    handshake, verified)."""
    parts = urlsplit(base)
    with (
        socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
    ):
        expires = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
        fingerprint = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
    return int((expires - time.time()) // 86400), fingerprint


def probe_fleet(
    urls: dict[str, str],
    sample_body: str | None = None,
    *,
    timeout: float = 10,
    parallel: int = 32,
    key: str | None = None,
    context: ssl.SSLContext | None = None,
) -> dict[str, NodeProbe]:
    """Probe every node at once; keys are the caller's node names."""
    return _each_node(
        urls, lambda _name, url: probe_node(url, sample_body, timeout=timeout, key=key, context=context), parallel
    )


def invoke_node(
    base_url: str,
    body: bytes,
    *,
    request_id: str,
    timeout: float = 60,
    key: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Invocation:
    url = f"{base_url.rstrip('/')}/score"
    started = time.perf_counter()
    try:
        sent = {"x-request-id": request_id, **_bearer(key)}
        status, answer, headers = _request(url, body=body, timeout=timeout, headers=sent, context=context)
    except OSError as exc:
        return Invocation(url, error=f"{type(exc).__name__}: {exc}")
    return Invocation(
        url,
        status=status,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        request_id=headers.get("x-request-id"),
        answer=answer.decode(errors="replace"),
    )


def invoke_fleet(
    urls: dict[str, str],
    body: bytes,
    *,
    request_id: str,
    timeout: float = 60,
    parallel: int = 32,
    key: str | None = None,
    context: ssl.SSLContext | None = None,
) -> dict[str, Invocation]:
    """The same request to every node at once, each with the request id `<request_id>-<node>`."""
    def ask(name: str, url: str) -> Invocation:
        return invoke_node(url, body, request_id=f"{request_id}-{name}", timeout=timeout, key=key, context=context)

    return _each_node(urls, ask, parallel)


def _each_node(urls: dict[str, str], ask: Callable[[str, str], object], parallel: int) -> dict:
    """ask(name, url) for every node at once, in a thread pool: a dead node costs one timeout."""
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(parallel, len(urls))) as pool:
        futures = {name: pool.submit(ask, name, url) for name, url in urls.items()}
        return {name: future.result() for name, future in futures.items()}
