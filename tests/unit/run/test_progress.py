"""The progress reducer (typed events -> host rows), the plain display and the results table."""

import io
from pathlib import Path

from rich.console import Console

from fleetdeploy.cli.progress import (
    HostRow,
    LiveProgress,
    PlainProgress,
    ProgressState,
    make_progress,
    print_summary,
    results_table,
)
from fleetdeploy.run import (
    AnsibleOutput,
    HostCounts,
    HostResult,
    HostTaskDone,
    HostTaskStarted,
    HostUnreachable,
    PlayStarted,
    RecapReceived,
    RunFinished,
    RunResult,
)

EVENTS = [
    PlayStarted("Deploy mnist"),
    HostTaskStarted("node1", "Copy model files"),
    HostTaskStarted("node2", "Copy model files"),
    HostTaskStarted("node3", "Copy model files"),
    HostUnreachable("node3", "Copy model files", "ssh: connect to host 127.0.0.1 port 1: Connection refused"),
    HostTaskDone("node1", "Copy model files", "changed"),
    HostTaskDone("node2", "Copy model files", "ok"),
    HostTaskStarted("node1", "Start container"),
    HostTaskStarted("node2", "Start container"),
    AnsibleOutput("TASK [Start container] ****"),
    HostTaskDone("node1", "Start container", "skipped"),
    HostTaskDone("node2", "Start container", "failed", "port is already allocated"),
    HostTaskStarted("node1", "Probe /score"),
    HostTaskDone("node1", "Probe /score", "ok", report={"release": "abc123def456", "score_latency_ms": 3.25}),
    RecapReceived(
        {
            "node1": HostCounts(ok=2, changed=1, skipped=1),
            "node2": HostCounts(ok=1, failed=1),
            "node3": HostCounts(unreachable=1),
        }
    ),
    RunFinished("failed", 2),
]


def _state(events) -> ProgressState:
    state = ProgressState()
    for event in events:
        state.apply(event)
    return state


def test_rows_follow_current_task_and_counts():
    state = _state(EVENTS[:9])
    assert state.play == "Deploy mnist"
    assert state.rows["node1"] == HostRow("node1", "running", "Start container", ok=1, changed=1)
    assert state.rows["node2"] == HostRow("node2", "running", "Start container", ok=1)
    assert state.rows["node3"].state == "unreachable" and "Connection refused" in state.rows["node3"].message


def test_failed_host_stays_failed_and_keeps_its_message():
    state = _state(EVENTS[:12])
    assert state.rows["node2"] == HostRow(
        "node2", "failed", "Start container", ok=1, failed=1, message="port is already allocated"
    )
    assert state.apply(HostTaskStarted("node2", "Next task")) == []
    assert state.rows["node2"].task == "Start container"


def test_recap_settles_every_row():
    state = _state(EVENTS)
    assert [(r.host, r.state) for r in state.rows.values()] == [
        ("node1", "changed"),
        ("node2", "failed"),
        ("node3", "unreachable"),
    ]
    assert state.rows["node1"] == HostRow("node1", "changed", "", ok=2, changed=1, skipped=1)
    assert state.finished == RunFinished("failed", 2)


def test_apply_reports_only_rows_that_changed():
    state = _state(EVENTS[:2])
    assert state.apply(HostTaskStarted("node1", "Copy model files")) == []
    assert state.apply(AnsibleOutput("noise")) == []
    assert [row.host for row in state.apply(HostTaskDone("node1", "Copy model files", "ok"))] == ["node1"]


def _console(**kwargs) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=150, **kwargs), out


def test_plain_display_writes_one_line_per_host_change_without_ansi():
    console, out = _console()
    display = make_progress(console)
    assert isinstance(display, PlainProgress)
    with display:
        for event in EVENTS:
            display(event)
    text = out.getvalue()
    assert "\x1b[" not in text
    assert text.splitlines() == [
        "PLAY Deploy mnist",
        "node3: unreachable: Copy model files: ssh: connect to host 127.0.0.1 port 1: Connection refused",
        "node1: changed: Copy model files",
        "node2: ok: Copy model files",
        "node1: skipped: Start container",
        "node2: failed: Start container: port is already allocated",
        "node1: ok: Probe /score",
        "run failed (rc=2)",
    ]


def test_plain_display_shows_ansible_output_with_verbose():
    console, out = _console()
    with PlainProgress(console, verbose=True) as display:
        display(AnsibleOutput("TASK [Start container] ****"))
    assert out.getvalue() == "TASK [Start container] ****\n"


def test_live_display_draws_a_line_per_host():
    console, out = _console(force_terminal=True)
    display = make_progress(console)
    assert isinstance(display, LiveProgress)
    with display:
        for event in EVENTS[:12]:
            display(event)
    text = out.getvalue()
    for expected in (
        "Deploy mnist",
        "node1",
        "running",
        "Start container",
        "node2",
        "failed",
        "port is already allocated",
        "node3",
        "unreachable",
    ):
        assert expected in text


def _result(tmp_path: Path) -> RunResult:
    stdout = tmp_path / "stdout"
    stdout.write_text("".join(f"line {i}\n" for i in range(100)))
    hosts = {
        "node1": HostResult(ok=2, changed=1, report={"release": "abc123def456", "score_latency_ms": 3.25}),
        "node2": HostResult(
            ok=1, failed=1, failed_task="Start container", message="port is already allocated"
        ),
    }
    return RunResult("failed", 2, hosts, stdout)


def test_results_table_has_release_latency_and_failure():
    console, out = _console()
    hosts = {
        "node1": HostResult(ok=2, report={"release": "abc", "score_latency_ms": 3.25}),
        "node2": HostResult(ok=1, failed=1, failed_task="Start", message="boom"),
        "node3": HostResult(ok=3, report={"release": "abc", "score_latency_ms": "12.04"}),
        "node4": HostResult(ok=3, report={"score_latency_ms": None}),
    }
    result = RunResult("failed", 2, hosts, None)
    console.print(results_table(result))
    lines = out.getvalue().splitlines()
    node1 = next(line for line in lines if "node1" in line)
    node2 = next(line for line in lines if "node2" in line)
    assert "ok" in node1 and "abc" in node1 and "3.2 ms" in node1
    assert "failed" in node2 and "Start: boom" in node2 and " - " in node2
    assert "12.0 ms" in next(line for line in lines if "node3" in line)
    assert "ms" not in next(line for line in lines if "node4" in line)


def test_summary_shows_the_raw_output_tail_on_failure(tmp_path):
    console, out = _console()
    print_summary(console, _result(tmp_path))
    text = out.getvalue()
    assert "line 99" in text and "line 60" in text and "line 59" not in text
    assert "failed nodes: node2" in text and str(tmp_path / "stdout") in text


def test_summary_stays_short_on_success(tmp_path):
    console, out = _console()
    result = _result(tmp_path)
    print_summary(console, RunResult("successful", 0, {"node1": result.hosts["node1"]}, result.stdout_path))
    assert "line 99" not in out.getvalue() and "node1" in out.getvalue()


def test_retries_show_the_next_attempt():
    from fleetdeploy.run import HostTaskRetrying

    state = _state(EVENTS[:2])
    state.apply(HostTaskRetrying("node1", "Wait until ready", 1, 120))
    assert state.rows["node1"].task == "Wait until ready (attempt 2 of 120)"
    assert state.rows["node1"].state == "running"
