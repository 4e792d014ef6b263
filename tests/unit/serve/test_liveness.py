"""The pieces of the liveness thread that are pure logic: the shared busy board and reading a probe's
request head. The thread itself is tested against real servers (integration/serve/test_lifecycle.py)."""

import os
import time

import pytest

from fleetdeploy.serve.liveness import BusyBoard, _liveness_request, _may_be_liveness


def test_the_board_says_every_worker_is_busy_only_when_each_is_in_run():
    board = BusyBoard(2)
    first, second = board.slot(0), board.slot(1)
    assert board.all_busy_for() == 0.0
    first.enter()
    assert board.all_busy_for() == 0.0  # the second worker is idle: it takes new connections
    time.sleep(0.02)
    second.enter()
    assert 0.0 < board.all_busy_for() < 0.02  # counted from the worker that entered last
    first.leave()
    assert board.all_busy_for() == 0.0


def test_the_board_is_shared_with_forked_workers():
    board = BusyBoard(1)
    pid = os.fork()
    if pid == 0:
        board.slot(0).enter()
        os._exit(0)
    os.waitpid(pid, 0)
    assert board.all_busy_for() > 0.0


@pytest.mark.parametrize("received", [b"", b"G", b"GET", b"GET /", b"GET / HTTP/1.1", b"HEAD / HTTP/1.1\r\nHo",
                                      b"GET /?x=1 HTTP/1.1\r\n"])
def test_a_head_that_may_still_be_a_probe_is_waited_for(received):
    assert _may_be_liveness(received)


@pytest.mark.parametrize("received", [b"POST", b"GET /s", b"GET /score HTTP/1.1", b"GET /ready HTTP/1.1\r\n",
                                      b"\x16\x03\x01"])  # the last: a TLS ClientHello
def test_any_other_request_is_handed_over_as_soon_as_its_line_shows_it(received):
    assert not _may_be_liveness(received)


def test_a_probe_keeps_its_request_ids():
    request = _liveness_request(b"GET / HTTP/1.1\r\nHost: n\r\nX-Request-Id: probe-1\r\n"
                                b"x-ms-client-request-id: c-1\r\n\r\n")
    assert (request.method, request.path, request.request_id, request.client_request_id) == \
        ("GET", "/", "probe-1", "c-1")
    assert _liveness_request(b"HEAD /?a=1 HTTP/1.0\r\n\r\n").query_string == "a=1"


@pytest.mark.parametrize("head", [b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
                                  b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                                  b"GET / SPDY/3\r\n\r\n", b"GET  / HTTP/1.1\r\n\r\n"])
def test_a_probe_with_a_body_or_an_odd_line_goes_to_the_real_parser(head):
    assert _liveness_request(head) is None
