"""The body limit: declared lengths refused before reading, and both adapters' reading paths
(uvicorn hands the body in one message or several; granian in one await or as chunks)."""

import asyncio
from pathlib import Path

import pytest

from fleetdeploy.serve.app import PayloadTooLarge, Request, ScoringApp
from fleetdeploy.serve.asgi import AsgiRequest
from fleetdeploy.serve.rsgi import RsgiRequest
from fleetdeploy.serve.settings import Settings


def asgi_read(messages, limit=10):
    queue = list(messages)

    async def receive():
        return queue.pop(0)

    scope = {"method": "POST", "path": "/score", "query_string": b"", "headers": []}
    return asyncio.run(AsgiRequest(scope, receive).read_body(limit, 30.0))


def message(body: bytes, more: bool) -> dict:
    return {"type": "http.request", "body": body, "more_body": more}


class RsgiStandIns:
    """granian's scope and protocol objects, reduced to what RsgiRequest reads."""

    def __init__(self, chunks: list[bytes], content_length: str | None):
        self.chunks = chunks
        self.method, self.path, self.query_string = "POST", "/score", ""
        self.headers = {"content-length": content_length} if content_length is not None else {}

    async def __call__(self):  # proto(): the whole body
        return b"".join(self.chunks)

    async def __aiter__(self):  # async for chunk in proto
        for chunk in self.chunks:
            yield chunk


def rsgi_read(chunks, limit=10, content_length=None):
    stand_in = RsgiStandIns(chunks, content_length)
    return asyncio.run(RsgiRequest(stand_in, stand_in).read_body(limit, 30.0))


def test_asgi_pieces_are_joined():
    assert asgi_read([message(b"abc", True), message(b"def", False)]) == b"abcdef"


@pytest.mark.parametrize(
    "messages",
    [
        [message(b"x" * 11, False)],  # everything handed over at once
        [message(b"x" * 6, True), message(b"x" * 6, False)],  # over the limit while streaming
    ],
)
def test_asgi_over_the_limit(messages):
    with pytest.raises(PayloadTooLarge, match="over the limit of 10 bytes"):
        asgi_read(messages)


def test_rsgi_chunked_pieces_are_joined():
    assert rsgi_read([b"abc", b"def"]) == b"abcdef"


def test_rsgi_chunked_over_the_limit():
    with pytest.raises(PayloadTooLarge, match="the body is 12 bytes, over the limit of 10 bytes"):
        rsgi_read([b"x" * 6, b"x" * 6])


def test_rsgi_declared_length_reads_in_one_await():
    assert rsgi_read([b"abc", b"def"], content_length="6") == b"abcdef"


class NeverRead(Request):
    async def read_body(self, limit, stall_timeout):
        raise AssertionError("the body was read although its declared length is over the limit")


def test_declared_length_is_refused_before_reading():
    app = ScoringApp(Settings(Path("score.py"), Path("."), None, max_body=10), None, None, None)
    with pytest.raises(PayloadTooLarge, match="the body is 11 bytes"):
        asyncio.run(app._read_body(NeverRead("POST", "/score", "", "11", "id-1")))
