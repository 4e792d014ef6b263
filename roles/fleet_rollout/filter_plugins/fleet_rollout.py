# The rollout's decisions, as Jinja filters for playbooks/deploy.yml: which nodes have been tried and how
# they ended, whether the rollout stops before the next batch (canary gate, failure budget, a stop request),
# and which updated nodes go back when it stopped. Pure functions, unit-tested in
# tests/unit/render/test_rollout_filters.py; the playbook only gathers their inputs from hostvars.
from __future__ import annotations

import math

OK = "ok"


def rollout_states(hostvars, hosts):
    """[{host, batch, outcome, switched}] for every host of `hosts` a batch has started on, in order.
    outcome is ok, failed or unreachable, or "" when the node dropped out mid-batch (unreachable)."""
    states = []
    for host in hosts:
        facts = hostvars[host]
        batch = facts.get("fleet_rollout_batch_number")
        if batch is None:
            continue
        states.append(
            {
                "host": host,
                "batch": int(batch),
                "outcome": facts.get("fleet_rollout_outcome") or "",
                "switched": bool(facts.get("fleet_rollout_switched")),
            }
        )
    return states


def allowed_failures(max_fail, n_hosts):
    """How many hosts may fail: a count, or a share of `n_hosts` floored ("10%")."""
    text = str(max_fail).strip()
    if text.endswith("%"):
        return math.floor(n_hosts * float(text[:-1]) / 100)
    return int(text)


def rollout_stop_reason(states, n_hosts, max_fail, stop_requested=False):
    """Why the rollout stops now ("" to go on): judged between batches and once after the last one.
    The first batch is a canary: any failure in it stops the rollout when nodes are left; later, more
    failures than max_fail allows stop it."""
    failed = [state["host"] for state in states if state["outcome"] != OK]
    more_to_come = len(states) < n_hosts
    first = [state["host"] for state in states if state["batch"] == 1 and state["outcome"] != OK]
    last_batch = max((state["batch"] for state in states), default=0)
    allowed = allowed_failures(max_fail, n_hosts)
    if first and more_to_come and last_batch == 1:
        return "canary batch failed on " + ", ".join(first)
    if len(failed) > allowed:
        return f"{len(failed)} node(s) failed, more than max_fail allows ({allowed})"
    if stop_requested and more_to_come and states:
        return "interrupted: stopped before the next batch"
    return ""


def rollout_rollback_hosts(states, mode):
    """The nodes that go back when the rollout stopped: the last batch's updated nodes (batch), every
    updated node (all) or none. Only nodes this run switched to the new release (one that served it
    already, or served nothing before, keeps it)."""
    if mode == "none" or not states:
        return []
    last_batch = max(state["batch"] for state in states)
    return [
        state["host"]
        for state in states
        if state["outcome"] == OK and state["switched"] and (mode == "all" or state["batch"] == last_batch)
    ]


class FilterModule:
    def filters(self):
        return {
            "fleet_rollout_states": rollout_states,
            "fleet_rollout_allowed_failures": allowed_failures,
            "fleet_rollout_stop_reason": rollout_stop_reason,
            "fleet_rollout_rollback_hosts": rollout_rollback_hosts,
        }
