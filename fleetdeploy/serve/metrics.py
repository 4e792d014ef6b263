"""Prometheus metrics for GET /metrics, labelled with the service and release being served.

With several worker processes, prometheus_client's multiprocess mode aggregates them (each worker
writes to files under PROMETHEUS_MULTIPROC_DIR, set by the supervisor before any worker starts), so a
scrape that reaches any worker sees the whole server."""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.process_collector import ProcessCollector

# Scoring latencies range from sub-millisecond (small sklearn models) to tens of seconds (large ones).
# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, service: str, release: str):
        self._registry = CollectorRegistry()
        if multiprocess_enabled():
            prometheus_multiprocess.MultiProcessCollector(self._registry)
            register_with = None  # values live in the shared files, read back by the collector
        else:
            ProcessCollector(registry=self._registry)
            register_with = self._registry
        identity = ("service", "release")
        self._identity = (service, release)
        self._requests = Counter(
            "fleetdeploy_requests", "HTTP requests answered, by endpoint and status code.",
            (*identity, "endpoint", "status"), registry=register_with,
        )
        self._latency = Histogram(
            "fleetdeploy_request_duration_seconds", "Time from request received to response sent.",
            (*identity, "endpoint"), buckets=LATENCY_BUCKETS, registry=register_with,
        )
        self._in_flight = Gauge(
            "fleetdeploy_requests_in_flight", "Requests being handled now.",
            identity, multiprocess_mode="livesum", registry=register_with,
        ).labels(service, release)
        self._init_seconds = Gauge(
            "fleetdeploy_init_duration_seconds", "How long the entry script's init() took.",
            identity, multiprocess_mode="max", registry=register_with,
        ).labels(service, release)
        self._ready = Gauge(
            "fleetdeploy_ready", "1 once init() (and the sample request, if any) succeeded.",
            identity, multiprocess_mode="livemin", registry=register_with,
        ).labels(service, release)
        self._ready.set(0)
        # labels() costs a few microseconds; resolve each (endpoint, status) child once.
        self._counter_children: dict[tuple[str, int], object] = {}
        self._latency_children: dict[str, object] = {}

    def request_started(self) -> None:
        self._in_flight.inc()

    def request_finished(self, endpoint: str, status: int, seconds: float) -> None:
        self._in_flight.dec()
        counter = self._counter_children.get((endpoint, status))
        if counter is None:
            counter = self._requests.labels(*self._identity, endpoint, str(status))
            self._counter_children[(endpoint, status)] = counter
        counter.inc()
        latency = self._latency_children.get(endpoint)
        if latency is None:
            latency = self._latency.labels(*self._identity, endpoint)
            self._latency_children[endpoint] = latency
        latency.observe(seconds)

    def init_finished(self, seconds: float) -> None:
        self._init_seconds.set(seconds)

    def set_ready(self, ready: bool) -> None:
        self._ready.set(1 if ready else 0)

    def render(self) -> bytes:
        return generate_latest(self._registry)


def forget_worker(pid: int) -> None:
    """Drop a dead worker's live gauges (in-flight, ready) from the aggregate."""
    if multiprocess_enabled():
        prometheus_multiprocess.mark_process_dead(pid)
