"""The rollout as deploy.yml reported it. The decisions themselves (canary gate, failure budget, what goes
back) are made inside the playbook, by roles/fleet_rollout's filters, so `apply`, ansible-runner and AWX
run the same rollout; each node's record play reports its part as `fleetdeploy_report.rollout`, read here
into the summary apply prints and the outcomes `apply --retry-failed` reads back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fleetdeploy.run import RunResult

OK = "ok"


@dataclass
class BatchReport:
    hosts: list[str]
    failed: list[str]


@dataclass
class Rollback:
    release: str
    ok: bool
    message: str = ""


@dataclass
class RolloutReport:
    batches: list[BatchReport] = field(default_factory=list)
    stopped: str | None = None  # why the rollout stopped early, None when every batch ran
    rollbacks: dict[str, Rollback] = field(default_factory=dict)  # node -> the release it went back to
    not_started: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # found already there before the batches: in no batch

    @property
    def rolled_back(self) -> list[str]:
        return list(self.rollbacks)

    @property
    def updated(self) -> list[str]:
        failed = set(self.failed)
        done = [host for batch in self.batches for host in batch.hosts if host not in failed]
        return [host for host in done if host not in self.rollbacks]

    @property
    def failed(self) -> list[str]:
        return [host for batch in self.batches for host in batch.failed]


def rollout_state(result: RunResult, host: str) -> dict:
    """What deploy.yml reported of `host`'s part in the rollout ({} when it never got that far)."""
    found = result.hosts.get(host)
    return dict(found.report.get("rollout") or {}) if found else {}


def rollout_report(hosts: list[str], result: RunResult) -> RolloutReport:
    """The batches in order with their failed nodes, why the rollout stopped, what went back, and the nodes
    never started. A run cut short (canceled, or ended by Ansible when a whole batch became unreachable)
    reports no reason of its own: that is said here."""
    states = {host: rollout_state(result, host) for host in hosts}
    numbered: dict[int, list[str]] = {}
    for host in hosts:
        if states[host].get("batch"):
            numbered.setdefault(int(states[host]["batch"]), []).append(host)
    report = RolloutReport()
    for number in sorted(numbered):
        members = numbered[number]
        report.batches.append(BatchReport(members, [h for h in members if states[h].get("outcome") != OK]))
    report.stopped = next((s["stopped"] for s in states.values() if s.get("stopped")), None)
    report.rollbacks = {
        host: Rollback(**states[host]["rolled_back"]) for host in hosts if states[host].get("rolled_back")
    }
    # A node with no batch that failed was refused at the lock play (e.g. sudo): failed, not "not started".
    reached = {
        host
        for host in hosts
        if host in result.hosts and not result.hosts[host].unreachable and not result.hosts[host].failed
    }
    report.already = [host for host in hosts if _already(states[host])]
    report.not_started = [
        host
        for host in hosts
        if host in reached and not states[host].get("batch") and host not in report.already
    ]
    if report.not_started and not report.stopped and result.status != "successful":
        report.stopped = (
            "interrupted: the run was canceled" if result.status == "canceled" else "the run ended early"
        )
    return report


def _already(state: dict) -> bool:
    """Done before the batches (the first look, confirmed under the lock when the lock play ran): already
    where the deploy wanted it, never in a batch."""
    return not state.get("batch") and bool(state.get("already")) and state.get("outcome") == OK


def with_rollout_outcomes(result: RunResult) -> RunResult:
    """Each node's result as the rollout saw it: a node it could not reach is unreachable (Ansible counts
    it as `ignored`), a failed one names the task that failed rather than the task that reports it, and
    one that was already where the deploy wanted it is `ok`, not `changed`: its only writes, if any, were
    the run's bookkeeping (the lock taken and given back, the history line, when another node needed the
    release)."""
    hosts = dict(result.hosts)
    for name, host in result.hosts.items():
        state = host.report.get("rollout") or {}
        if state.get("outcome") == "unreachable":
            hosts[name] = replace(host, unreachable=True, failed_task=None, message=state.get("message"))
        elif state.get("outcome") == "failed" and state.get("failed_task"):
            hosts[name] = replace(host, failed_task=state["failed_task"], message=state.get("message"))
        elif state.get("outcome") == OK and state.get("already") and not state.get("rolled_back"):
            hosts[name] = replace(host, changed=0)
    return replace(result, hosts=hosts)
