"""The fleet's CA (endpoint.tls: fleet-ca): made once, 0600 keys, node certificates that name the node
as clients reach it and verify against the CA with hostname checking, re-issued only when needed."""

from __future__ import annotations

import datetime
import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509

from fleetdeploy.fleet_ca import RENEW_DAYS, FleetCA, node_names


@pytest.fixture
def ca(tmp_path):
    authority = FleetCA(tmp_path / "ca")
    assert authority.ensure() and not authority.ensure()
    return authority


def sans(path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return {str(name.value) for name in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value}


def test_the_ca_and_node_keys_are_private(ca):
    node = ca.node_certificate("node1", ["node1", "127.0.0.1"])
    for key in (ca.key_path, node.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(ca.folder.stat().st_mode) == 0o700


def test_a_node_certificate_names_the_node_as_clients_reach_it():
    assert node_names("node1", "10.0.0.5", ["https://scoring.site:{port}", "http://10.0.0.5:6790"]) == [
        "node1", "10.0.0.5", "scoring.site"
    ]


def test_it_is_kept_until_its_names_change_or_it_nears_expiry(ca):
    first = ca.node_certificate("node1", ["node1", "127.0.0.1"])
    assert first.issued and sans(first.cert) == {"node1", "127.0.0.1"}
    assert not ca.node_certificate("node1", ["node1", "127.0.0.1"]).issued
    moved = ca.node_certificate("node1", ["node1", "10.0.0.9"])
    assert moved.issued and sans(moved.cert) == {"node1", "10.0.0.9"}
    short = ca.node_certificate("node2", ["node2"], days=RENEW_DAYS - 1)
    assert short.issued and ca.node_certificate("node2", ["node2"]).issued  # too close to expiry: renewed


def test_a_tls_client_trusting_the_ca_reaches_the_node_by_its_address_only(ca):
    """A real handshake on 127.0.0.1: the node's certificate verifies against the CA for the name it
    carries, and not for another."""
    node = ca.node_certificate("node1", ["node1", "127.0.0.1"])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(node.cert, node.key)

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve(count: int) -> None:
        for _ in range(count):
            connection, _ = listener.accept()
            try:
                with server.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, args=(2,), daemon=True)
    thread.start()
    client = ssl.create_default_context(cafile=str(ca.cert_path))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, client.wrap_socket(
        raw, server_hostname="127.0.0.1"
    ) as tls:
        left = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
        assert left > datetime.datetime.now(datetime.UTC).timestamp() + 80 * 86400
        tls.send(b"x")
    with (
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch|doesn't match"),
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
    ):
        client.wrap_socket(raw, server_hostname="other.site")
    thread.join(5)
    listener.close()
