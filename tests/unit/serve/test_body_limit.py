"""The body limit on both paths uvicorn may take: one message, or several (chunked uploads)."""

import asyncio
from pathlib import Path

import pytest

from fleetdeploy.serve.app import PayloadTooLarge, ScoringApp
from fleetdeploy.serve.settings import Settings


def read(messages, limit=10, content_length=None):
    app = ScoringApp(Settings(Path("score.py"), Path("."), None, max_body=limit), None, None, None)
    queue = list(messages)

    async def receive():
        return queue.pop(0)

    return asyncio.run(app._read_body(receive, content_length))


def message(body: bytes, more: bool) -> dict:
    return {"type": "http.request", "body": body, "more_body": more}


def test_pieces_are_joined():
    assert read([message(b"abc", True), message(b"def", False)]) == b"abcdef"


@pytest.mark.parametrize(
    "messages",
    [
        [message(b"x" * 11, False)],  # everything handed over at once
        [message(b"x" * 6, True), message(b"x" * 6, False)],  # over the limit while streaming
    ],
)
def test_over_the_limit(messages):
    with pytest.raises(PayloadTooLarge, match="over the limit of 10 bytes"):
        read(messages)


def test_declared_length_is_refused_before_reading():
    with pytest.raises(PayloadTooLarge, match="the body is 11 bytes"):
        read([], content_length=b"11")
