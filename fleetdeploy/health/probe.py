"""Asking each node's scoring service how it is: live (GET /), ready (GET /ready), what it serves
(GET /version) and, given a sample body, how long a real POST /score takes.

Plain urllib in a thread pool: probes are a few small requests per node, and a fleet of nodes is
probed in parallel, so a slow or dead node costs one timeout, not one per node.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


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


def _request(url: str, *, body: bytes | None = None, timeout: float) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def probe_node(base_url: str, sample_body: str | None = None, *, timeout: float = 10) -> NodeProbe:
    base = base_url.rstrip("/")
    try:
        live_status, _ = _request(f"{base}/", timeout=timeout)
        ready_status, _ = _request(f"{base}/ready", timeout=timeout)
        version_status, version_body = _request(f"{base}/version", timeout=timeout)
        version = json.loads(version_body) if version_status == 200 else None
        probe = NodeProbe(base, live=live_status == 200, ready=ready_status == 200, version=version)
        if sample_body is None or not probe.ready:
            return probe
        started = time.perf_counter()
        status, answer = _request(f"{base}/score", body=sample_body.encode(), timeout=timeout)
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
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(parallel, len(urls))) as pool:
        futures = {
            name: pool.submit(probe_node, url, sample_body, timeout=timeout) for name, url in urls.items()
        }
        return {name: future.result() for name, future in futures.items()}
