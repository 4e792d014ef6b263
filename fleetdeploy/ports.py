"""Ports on this machine: a free one to listen on, and whether a given one is taken (the local web
service's default port, the tunnel registry's)."""

from __future__ import annotations

import socket


def free_port(address: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the kernel's pick; taken by whoever binds it first)."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def port_taken(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False
