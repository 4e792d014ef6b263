"""Log lines buffered before a fork() must be written once, by the parent, not again by the child."""

import os
import subprocess
import sys
import textwrap


def test_buffered_lines_are_not_duplicated_by_fork():
    code = textwrap.dedent("""
        import os
        from fleetdeploy.serve.logs import LOG, setup_logging, flush_logs
        setup_logging("info")
        LOG.info("before the fork")
        pid = os.fork()
        if pid == 0:
            LOG.info("in the child")
            flush_logs()
            os._exit(0)
        os.waitpid(pid, 0)
        flush_logs()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.stderr.count("before the fork") == 1, result.stderr
    assert result.stderr.count("in the child") == 1, result.stderr
