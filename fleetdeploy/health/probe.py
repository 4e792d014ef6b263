"""Asking each node's scoring service how it is: live (GET /), ready (GET /ready), what it serves
(GET /version) and, given a sample body, how long a real POST /score takes; and `fleetdeploy invoke`'s
one request to every node (`invoke_fleet`).

Plain urllib in a thread pool: probes are a few small requests per node, and a fleet of nodes is
probed in parallel, so a slow or dead node costs one timeout, not one per node.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message


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
    url: str, *, body: bytes | None = None, timeout: float, headers: dict | None = None
) -> tuple[int, bytes, Message]:
    """(status, body, the answer's headers: looked up without regard to case)."""
    sent = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=sent, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read(), failed.headers


def probe_node(base_url: str, sample_body: str | None = None, *, timeout: float = 10) -> NodeProbe:
    base = base_url.rstrip("/")
    try:
        live_status, _, _ = _request(f"{base}/", timeout=timeout)
        ready_status, _, _ = _request(f"{base}/ready", timeout=timeout)
        version_status, version_body, _ = _request(f"{base}/version", timeout=timeout)
        version = json.loads(version_body) if version_status == 200 else None
        probe = NodeProbe(base, live=live_status == 200, ready=ready_status == 200, version=version)
        if sample_body is None or not probe.ready:
            return probe
        started = time.perf_counter()
        status, answer, _ = _request(f"{base}/score", body=sample_body.encode(), timeout=timeout)
        latency = (time.perf_counter() - started) * 1000
        return NodeProbe(
            base,
            live=probe.live,
            ready=probe.ready,
            version=version,
            score_status=status,
            score_latency_ms=round(latency, 1),
            score_answer=answer.decode(errors="replace")[:500],
        )
    except (OSError, ValueError) as exc:  # refused, reset, timed out, or not JSON
        return NodeProbe(base, error=f"{type(exc).__name__}: {exc}")


def probe_fleet(
    urls: dict[str, str], sample_body: str | None = None, *, timeout: float = 10, parallel: int = 32
) -> dict[str, NodeProbe]:
    """Probe every node at once; keys are the caller's node names."""
    return _each_node(urls, lambda _name, url: probe_node(url, sample_body, timeout=timeout), parallel)


def invoke_node(base_url: str, body: bytes, *, request_id: str, timeout: float = 60) -> Invocation:
    url = f"{base_url.rstrip('/')}/score"
    started = time.perf_counter()
    try:
        status, answer, headers = _request(url, body=body, timeout=timeout, headers={"x-request-id": request_id})
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
    urls: dict[str, str], body: bytes, *, request_id: str, timeout: float = 60, parallel: int = 32
) -> dict[str, Invocation]:
    """The same request to every node at once, each with the request id `<request_id>-<node>`."""
    def ask(name: str, url: str) -> Invocation:
        return invoke_node(url, body, request_id=f"{request_id}-{name}", timeout=timeout)

    return _each_node(urls, ask, parallel)


def _each_node(urls: dict[str, str], ask: Callable[[str, str], object], parallel: int) -> dict:
    """ask(name, url) for every node at once, in a thread pool: a dead node costs one timeout."""
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(parallel, len(urls))) as pool:
        futures = {name: pool.submit(ask, name, url) for name, url in urls.items()}
        return {name: future.result() for name, future in futures.items()}
