"""Several workers on one port: the listening socket is bound once and inherited by forked workers,
so the kernel hands each new connection to whichever worker is idle in accept(). Each worker runs
init() itself. SIGTERM is forwarded so every worker drains; a worker whose init() fails stops the
whole server (restarting it would only fail again), any other worker death is restarted."""

import ctypes
import logging
import os
import signal
import socket
import time

from fleetdeploy.serve.entry_script import EntryScript
from fleetdeploy.serve.errors import EntryScriptError, InitFailed
from fleetdeploy.serve.liveness import BusyBoard
from fleetdeploy.serve.logs import LOG, flush_logs
from fleetdeploy.serve.metrics import forget_worker
from fleetdeploy.serve.settings import Settings
from fleetdeploy.serve.worker import run_worker

_FATAL = (InitFailed.exit_code, EntryScriptError.exit_code)
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_RESTART_PAUSE = 1.0  # seconds; keeps a crash-looping worker from spinning the CPU


def supervise(settings: Settings, script: EntryScript, sock: socket.socket, board: BusyBoard) -> int:
    workers: dict[int, int] = {}  # pid -> worker slot
    state = {"stopping": False, "exit_code": 0}

    supervisor_pid = os.getpid()

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            _die_with(supervisor_pid)
            os._exit(_worker_main(settings, script, sock, board, slot))
        workers[pid] = slot
        LOG.info(f"worker {slot} started", extra={"fields": {"worker_pid": pid}})

    def stop(signum=None, frame=None) -> None:
        if state["stopping"]:
            return
        state["stopping"] = True
        sock.close()  # the kernel stops queueing connections nobody will accept
        for pid in list(workers):
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(settings.workers):
        spawn(slot)

    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        slot = workers.pop(pid, None)
        if slot is None:
            continue  # not one of ours (a process the entry script forked before we did)
        forget_worker(pid)
        code = os.waitstatus_to_exitcode(status)
        if state["stopping"]:
            if code != 0 and state["exit_code"] == 0:
                state["exit_code"] = code if code > 0 else 1
            continue
        if code in _FATAL:
            LOG.error(f"worker {slot} could not start (exit code {code}); stopping the server")
            state["exit_code"] = code
            stop()
            continue
        LOG.error(f"worker {slot} (pid {pid}) died ({_describe(code)}); starting a new one")
        time.sleep(_RESTART_PAUSE)
        if not state["stopping"]:
            spawn(slot)
    return state["exit_code"]


def _worker_main(settings: Settings, script: EntryScript, sock: socket.socket, board: BusyBoard, slot: int) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 1
    try:
        code = run_worker(settings, script, sock, board, slot)
    except BaseException:  # noqa: BLE001  (logged; the exit code tells the supervisor)
        LOG.exception("worker crashed")
    finally:
        logging.shutdown()
        flush_logs()  # os._exit() skips atexit
    return code


def _die_with(supervisor_pid: int) -> None:
    """Have the kernel send this worker SIGTERM (a drain) if the supervisor dies, even by SIGKILL:
    orphaned workers would keep serving an old release on the port."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: orphans are then possible, as with most pre-fork servers
    if os.getppid() != supervisor_pid:  # it died before prctl() took effect
        os._exit(1)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _describe(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"
