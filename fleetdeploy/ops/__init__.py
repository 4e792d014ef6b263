"""Day-two operations on a deployed fleet: status (with drift), logs, history and remove.

Each module has one job; the CLI (fleetdeploy/cli/ops_cmd.py) is the only place that prints. Judgements
(healthy? drifted?) are pure functions of what was gathered, so they are unit-tested without a fleet.
"""
