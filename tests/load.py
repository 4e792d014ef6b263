"""A load generator for proving a rollout drops nothing: bounded in requests and in time, paced at a
total rate across every node's scoring port, each request recorded with what became of it.

Why it is built this way:
- Keep-alive connections and no retries: a front or server that closes a pooled connection under a
  client is exactly the failure a rollout must not cause, so it has to show up, not be papered over by
  a library that silently reconnects and resends. A failed request closes its connection; the next
  request on that worker opens a new one (that is a new request, not a retry).
- Threads with the standard library's http.client: one persistent connection per worker. A node's
  workers share that node's schedule (one slot every 1/rate-per-node seconds, open loop): a worker stuck
  on a slow answer does not hold the rate back, another takes the next slot. Only when every worker
  of a node is busy for longer than MAX_LAG are the missed slots skipped (counted), not sent in a burst. Measured lighter than urllib3 for the same
  requests (docs/rollout.md, "Benchmark"), which matters beside a sandbox fleet on 2 cores; each
  worker's own CPU time is summed so a run reports its cost.
- Both bounds are required: a run stops by itself after `max_requests` or `max_seconds`, whichever
  comes first, even if the caller forgets to stop it.

`VersionWatcher` polls every node's `/version` beside the load and keeps the sequence of releases each
node served, to prove each one flipped.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import urlsplit

OK = "ok"
MAX_LAG = 0.5  # seconds a node's slot may wait for a free worker before it is skipped


@dataclass(frozen=True)
class RequestRecord:
    node: str
    start: float  # seconds since the run started
    latency: float  # seconds from sending to the last byte of the answer (or to the failure)
    status: int | None  # HTTP status, None when no answer came
    outcome: str  # "ok", "http_503", "reset", "refused", "closed", "timeout", "bad_answer", "error:<name>"

    @property
    def failed(self) -> bool:
        return self.outcome != OK


@dataclass(frozen=True)
class LoadSummary:
    sent: int
    ok: int
    failed: int
    failures: dict[str, int]  # outcome -> count
    failures_by_node: dict[str, dict[str, int]]  # node -> outcome -> count
    sent_by_node: dict[str, int]
    p50_ms: float | None  # latency of the successful requests
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    seconds: float
    rate: float  # achieved requests per second
    skipped: int  # schedule slots dropped because every worker of a node was busy for MAX_LAG
    connections: int  # TCP connections opened (1 per worker when nothing failed)
    cpu_seconds: float  # the generator's own CPU time (its worker threads)
    stopped_by: str  # "requests", "time" or "caller"

    def line(self) -> str:
        """One line for logs and assertion messages."""
        failures = ", ".join(f"{kind}={count}" for kind, count in sorted(self.failures.items())) or "none"
        return (
            f"{self.sent} sent in {self.seconds:.1f}s ({self.rate:.0f}/s), {self.failed} failed ({failures}), "
            f"p50/p90/p99 {_ms(self.p50_ms)}/{_ms(self.p90_ms)}/{_ms(self.p99_ms)} ms, "
            f"{self.connections} connections, {self.skipped} slots skipped, "
            f"generator CPU {self.cpu_seconds:.1f}s ({100 * self.cpu_seconds / max(self.seconds, 1e-9):.0f}%), "
            f"stopped by {self.stopped_by}"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@dataclass
class LoadReport:
    records: list[RequestRecord]
    seconds: float
    started_at: float  # time.time() when the run started, to line records up with other logs
    skipped: int
    connections: int
    cpu_seconds: float
    stopped_by: str

    def failures(self) -> list[RequestRecord]:
        return [record for record in self.records if record.failed]

    def between(self, start: float, end: float) -> list[RequestRecord]:
        """Records of the requests sent in [start, end) seconds since the run started."""
        return [record for record in self.records if start <= record.start < end]

    def summary(self, records: list[RequestRecord] | None = None) -> LoadSummary:
        chosen = self.records if records is None else records
        span = self.seconds if records is None else _span(chosen)
        failed = [record for record in chosen if record.failed]
        by_node: dict[str, Counter] = {}
        for record in failed:
            by_node.setdefault(record.node, Counter())[record.outcome] += 1
        latencies = sorted(record.latency * 1000 for record in chosen if not record.failed)
        return LoadSummary(
            sent=len(chosen),
            ok=len(chosen) - len(failed),
            failed=len(failed),
            failures=dict(Counter(record.outcome for record in failed)),
            failures_by_node={node: dict(counts) for node, counts in sorted(by_node.items())},
            sent_by_node=dict(sorted(Counter(record.node for record in chosen).items())),
            p50_ms=percentile(latencies, 50),
            p90_ms=percentile(latencies, 90),
            p99_ms=percentile(latencies, 99),
            max_ms=latencies[-1] if latencies else None,
            seconds=span,
            rate=len(chosen) / span if span > 0 else 0.0,
            skipped=self.skipped,
            connections=self.connections,
            cpu_seconds=self.cpu_seconds,
            stopped_by=self.stopped_by,
        )


def _span(records: list[RequestRecord]) -> float:
    if not records:
        return 0.0
    return max(record.start + record.latency for record in records) - min(record.start for record in records)


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def classify(exc: BaseException) -> str:
    """The failure kind of an exception raised while sending a request or reading its answer."""
    # Order matters: RemoteDisconnected is a ConnectionResetError, and timeouts are OSErrors.
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls_verify"  # the node's certificate is not one the client trusts for that name
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError):
        return "closed"  # the peer closed the (pooled) connection before answering
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, http.client.HTTPException):
        return "bad_answer"  # a cut or garbled answer (IncompleteRead, BadStatusLine, ...)
    return f"error:{type(exc).__name__}"


@dataclass(frozen=True)
class Target:
    node: str
    host: str
    port: int
    path: str
    tls: bool = False

    @classmethod
    def from_url(cls, node: str, url: str, path: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{node}: {url!r} is not an http(s)://host:port URL")
        tls = parts.scheme == "https"
        return cls(node, parts.hostname, parts.port or (443 if tls else 80), parts.path.rstrip("/") + path, tls)

    def connect(self, timeout: float, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
        """A connection, not yet opened; https with `context` (the hostname checked when it says so)."""
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


class _Schedule:
    """The send times of one node, shared by its workers: one slot every `interval` seconds."""

    def __init__(self, offset: float, interval: float):
        self._next = offset  # seconds after the run start until begin() makes it a clock time
        self._interval = interval
        self._lock = threading.Lock()
        self.skipped = 0

    def begin(self, t0: float) -> None:
        self._next += t0

    def take(self, now: float) -> float:
        """The next slot (possibly already past: send at once). After a stall longer than MAX_LAG the
        missed slots are skipped and counted, and the schedule goes on from `now` (no burst)."""
        with self._lock:
            if now - self._next > MAX_LAG:
                missed = math.floor((now - self._next) / self._interval)
                self.skipped += missed
                self._next += missed * self._interval
            slot = self._next
            self._next += self._interval
            return slot


@dataclass
class _Worker:
    """One worker on one persistent connection to one node; records only into its own list."""

    target: Target
    schedule: _Schedule
    records: list[RequestRecord] = field(default_factory=list)
    connections: int = 0
    cpu_seconds: float = 0.0


class LoadRun:
    """A running load; `stop()` ends it early, `result()` waits for the end and returns the report.

    Start with `start_load(...)` or use it as a context manager (`with start_load(...) as run:`)."""

    def __init__(
        self,
        targets: dict[str, str],
        *,
        rate: float,
        max_requests: int,
        max_seconds: float,
        body: bytes,
        path: str = "/score",
        connections_per_node: int = 2,
        timeout: float = 10.0,
        expect_body: bytes | None = None,
        headers: dict[str, str] | None = None,  # sent with every request (e.g. Authorization)
        tls_context: ssl.SSLContext | None = None,  # for https:// targets: what to trust
    ):
        if not targets:
            raise ValueError("no targets: give at least one node URL")
        if rate <= 0 or max_requests < 1 or max_seconds <= 0:
            raise ValueError("rate, max_requests and max_seconds must all be positive (the run is bounded)")
        if connections_per_node < 1:
            raise ValueError("connections_per_node must be at least 1")
        self._body = body
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._timeout = timeout
        self._tls_context = tls_context
        self._expect = expect_body.strip() if expect_body is not None else None
        self._max_requests = max_requests
        self._max_seconds = max_seconds
        interval = len(targets) / rate  # per node
        self._schedules = [_Schedule(interval * i / len(targets), interval) for i in range(len(targets))]
        self._workers = [
            _Worker(Target.from_url(node, url, path), schedule)
            for (node, url), schedule in zip(targets.items(), self._schedules, strict=True)
            for _ in range(connections_per_node)
        ]
        self._budget = threading.Semaphore(max_requests)  # one permit per request the run may send
        self._stop = threading.Event()
        self._stopped_by = "time"
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0
        self._started_at = 0.0
        self._ended = 0.0
        self._report: LoadReport | None = None

    def start(self) -> LoadRun:
        self._t0 = time.perf_counter()
        self._started_at = time.time()
        for schedule in self._schedules:
            schedule.begin(self._t0)
        for i, worker in enumerate(self._workers):
            thread = threading.Thread(target=self._work, args=(worker,), name=f"load-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def elapsed(self) -> float:
        """Seconds since the run started (the clock of RequestRecord.start)."""
        return time.perf_counter() - self._t0

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stopped_by = "caller"
            self._ended = time.perf_counter()
            self._stop.set()

    def result(self, timeout: float | None = None) -> LoadReport:
        """Wait until the run ends (by its bounds or stop()) and return its report."""
        if self._report is None:
            deadline = None if timeout is None else time.monotonic() + timeout
            for thread in self._threads:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    raise TimeoutError(f"the load run did not end within {timeout}s")
            records = sorted((r for w in self._workers for r in w.records), key=lambda r: r.start)
            self._report = LoadReport(
                records=records,
                seconds=(self._ended or time.perf_counter()) - self._t0,
                started_at=self._started_at,
                skipped=sum(schedule.skipped for schedule in self._schedules),
                connections=sum(w.connections for w in self._workers),
                cpu_seconds=sum(w.cpu_seconds for w in self._workers),
                stopped_by=self._stopped_by,
            )
        return self._report

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
        self.result()

    def _work(self, worker: _Worker) -> None:
        cpu_start = time.thread_time()
        connection: http.client.HTTPConnection | None = None
        deadline = self._t0 + self._max_seconds
        try:
            while not self._stop.is_set():
                now = time.perf_counter()
                next_send = worker.schedule.take(now)
                if now < next_send:
                    if self._stop.wait(min(next_send, deadline) - now):
                        break
                    now = time.perf_counter()
                if now >= deadline:
                    self._finish("time")
                    break
                if not self._budget.acquire(blocking=False):
                    self._finish("requests")
                    break
                if connection is None:
                    connection = worker.target.connect(self._timeout, self._tls_context)
                    worker.connections += 1
                record, keep = self._send(connection, worker.target, now)
                worker.records.append(record)
                if not keep:
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()
            worker.cpu_seconds = time.thread_time() - cpu_start

    def _finish(self, reason: str) -> None:
        if not self._stop.is_set():
            self._stopped_by = reason
            self._ended = time.perf_counter()
            self._stop.set()

    def _send(self, connection: http.client.HTTPConnection, target: Target, start: float):
        """Send one request on the connection; (record, whether the connection may be reused)."""
        status = None
        try:
            connection.request("POST", target.path, body=self._body, headers=self._headers)
            answer = connection.getresponse()
            status = answer.status
            payload = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            outcome, keep = classify(exc), False
        else:
            keep = not answer.will_close
            if not 200 <= status < 300:
                outcome = f"http_{status}"
            elif self._expect is not None and payload.strip() != self._expect:
                outcome = "bad_answer"
            else:
                outcome = OK
        latency = time.perf_counter() - start
        return RequestRecord(target.node, start - self._t0, latency, status, outcome), keep


def start_load(targets: dict[str, str], **options) -> LoadRun:
    """Start sending `rate` requests per second in all, spread evenly over `targets` (node -> base URL),
    until `max_requests` were sent or `max_seconds` passed (or stop()). `options` are LoadRun's keyword
    arguments. Returns the running LoadRun."""
    return LoadRun(targets, **options).start()


@dataclass(frozen=True)
class Sighting:
    time: float  # seconds since the watcher started
    release: str | None  # None: /version did not answer (the error is kept)
    error: str | None = None


class VersionWatcher:
    """Polls GET /version on every node every `interval` seconds (a fresh connection per poll, so the
    watcher never has a pooled connection of its own to lose) until stopped or `max_seconds` passed.
    Keeps, per node, each change of what it saw."""

    def __init__(self, targets: dict[str, str], *, max_seconds: float, interval: float = 0.25, timeout=2.0):
        if max_seconds <= 0:
            raise ValueError("max_seconds must be positive (the watcher is bounded)")
        self._targets = {node: Target.from_url(node, url, "/version") for node, url in targets.items()}
        self._interval = interval
        self._timeout = timeout
        self._max_seconds = max_seconds
        self._stop = threading.Event()
        self._changes: dict[str, list[Sighting]] = {node: [] for node in targets}
        self._polls = 0
        self._thread = threading.Thread(target=self._watch, name="version-watcher", daemon=True)
        self._t0 = 0.0

    def start(self) -> VersionWatcher:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> VersionWatcher:
        self._stop.set()
        self._thread.join()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def elapsed(self) -> float:
        """Seconds since the watcher started (the clock of Sighting.time)."""
        return time.perf_counter() - self._t0

    @property
    def polls(self) -> int:
        return self._polls

    def changes(self, node: str) -> list[Sighting]:
        return list(self._changes[node])

    def releases(self, node: str) -> list[str]:
        """The releases the node served, in order, each run of equal answers once (errors left out)."""
        seen: list[str] = []
        for sighting in self._changes[node]:
            if sighting.release is not None and (not seen or seen[-1] != sighting.release):
                seen.append(sighting.release)
        return seen

    def current(self, node: str) -> str | None:
        return self._changes[node][-1].release if self._changes[node] else None

    def errors(self, node: str) -> list[Sighting]:
        return [sighting for sighting in self._changes[node] if sighting.release is None]

    def _watch(self) -> None:
        deadline = self._t0 + self._max_seconds
        while time.perf_counter() < deadline:
            for node, target in self._targets.items():
                self._record(node, self._poll(target))
            self._polls += 1
            if self._stop.wait(self._interval):
                return

    def _poll(self, target: Target) -> Sighting:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=self._timeout)
        now = time.perf_counter() - self._t0
        try:
            connection.request("GET", target.path)
            answer = connection.getresponse()
            body = answer.read()
            if answer.status != 200:
                return Sighting(now, None, f"http_{answer.status}")
            return Sighting(now, json.loads(body).get("release"))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Sighting(now, None, classify(exc))
        finally:
            connection.close()

    def _record(self, node: str, sighting: Sighting) -> None:
        history = self._changes[node]
        if not history or (history[-1].release, history[-1].error) != (sighting.release, sighting.error):
            history.append(sighting)
