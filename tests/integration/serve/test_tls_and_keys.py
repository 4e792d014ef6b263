"""`fleetdeploy serve --tls-cert/--tls-key` and `--auth-key-file` on real server processes, both HTTP
servers: HTTPS verified against the issuing CA with hostname checking, the keys Azure ML endpoints have,
a key rotated while clients use the other, and every bad file refused at start naming it."""

import concurrent.futures
import datetime
import ipaddress
import json
import socket
import ssl
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fleetdeploy.serve.auth import hash_key
from tests.integration.serve.conftest import SCRIPTS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ECHO = '{"action": "echo"}'


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject_key, issuer_key, issuer_name, common_name, days, ca=False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer_name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and, signed by it, a server certificate for 127.0.0.1 (valid, and one expired)."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test fleet CA")])
    ca_cert = _certificate(ca_key, ca_key, ca_name, "test fleet CA", 30, ca=True)
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_key = ec.generate_private_key(ec.SECP256R1())
    (folder / "server.key").write_bytes(_pem_key(server_key))
    (folder / "server.key").chmod(0o600)
    for name, days in (("server.pem", 30), ("expired.pem", -1)):
        cert = _certificate(server_key, ca_key, ca_name, "node1", days)
        (folder / name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "other.key").write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    (folder / "other.key").chmod(0o600)
    return folder


def tls_args(pki, cert="server.pem", key="server.key"):
    return ["--tls-cert", pki / cert, "--tls-key", pki / key]


def test_https_answers_verified_against_the_ca_with_hostname_checking(start_server, pki):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", *tls_args(pki)])
    url = server.url.replace("http://", "https://")
    _wait_https(server, url, pki)
    response = requests.post(f"{url}/score", data=ECHO, timeout=10, verify=pki / "ca.pem")
    assert response.status_code == 200 and response.json()["raw"] == ECHO
    server.wait_for_log(f"on https://127.0.0.1:{server.port}", timeout=10)  # a busy machine writes it late
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the CA
        requests.get(f"{url}/", timeout=10)


def test_plain_http_to_the_tls_port_fails_cleanly(start_server, pki):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", *tls_args(pki)])
    url = server.url.replace("http://", "https://")
    _wait_https(server, url, pki)
    started = time.monotonic()
    try:
        answer = requests.get(f"{server.url}/", timeout=10)
    except requests.ConnectionError:
        pass  # closed: what most TLS servers do with a plain request
    else:
        assert answer.status_code == 400  # or an answer saying so
    assert time.monotonic() - started < 5  # never held until a timeout
    assert requests.get(f"{url}/", timeout=10, verify=pki / "ca.pem").status_code == 200


def test_only_modern_tls_is_offered(start_server, pki):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", *tls_args(pki)])
    url = server.url.replace("http://", "https://")
    _wait_https(server, url, pki)
    client = ssl.create_default_context(cafile=pki / "ca.pem")
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("ECDHE-ECDSA-AES128-SHA")  # CBC with SHA-1: not in the server's list
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, pytest.raises(ssl.SSLError):
        client.wrap_socket(raw, server_hostname="127.0.0.1")
    modern = ssl.create_default_context(cafile=pki / "ca.pem")
    with (socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
          modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"cert": "missing.pem"}, "--tls-cert: {pki}/missing.pem does not exist"),
        ({"key": "other.key"}, "--tls-key: {pki}/other.key is not the private key of the certificate"),
        ({"cert": "expired.pem"}, "--tls-cert: {pki}/expired.pem expired on "),
        ({"key": "readable.key"}, ("can be read by other users (mode 0644); a private key must be readable by "
                                   "its owner alone: chmod 600 {pki}/readable.key")),
    ],
)
def test_unusable_tls_files_are_refused_at_start_naming_them(start_server, pki, files, message):
    (pki / "readable.key").write_bytes((pki / "server.key").read_bytes())
    (pki / "readable.key").chmod(0o644)
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", *tls_args(pki, **files)])
    assert server.wait_exit() == 2
    assert message.format(pki=pki) in server.log()


def test_a_certificate_without_its_key_is_refused(start_server, pki):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--tls-cert", pki / "server.pem"])
    assert server.wait_exit() == 2
    assert "--tls-cert and --tls-key (FLEETDEPLOY_TLS_CERT, FLEETDEPLOY_TLS_KEY) go together" in server.log()


def _wait_https(server, url, pki, headers=None):
    deadline = time.monotonic() + 30
    while True:
        assert server.process.poll() is None, server.log()
        try:
            answer = requests.get(f"{url}/ready", timeout=2, verify=pki / "ca.pem" if pki else True, headers=headers)
            if answer.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)


# Key auth


def write_keys(path, primary, secondary, metrics=None):
    lines = [f"primary {hash_key(primary)}", f"secondary {hash_key(secondary)}"]
    if metrics:
        lines.append(f"metrics {hash_key(metrics)}")
    path.write_text("# keys of service toolbox\n" + "\n".join(lines) + "\n")


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(start_server, tmp_path):
    keys = tmp_path / "keys"
    write_keys(keys, "prim-1", "second-1", metrics="metrics-1")
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--auth-key-file", keys])
    _wait_https(server, server.url, None, bearer("prim-1"))  # plain HTTP here; /ready needs a key too
    server.keys = keys
    return server


def test_every_path_but_liveness_needs_either_key(keyed):
    assert requests.get(keyed.url + "/", timeout=5).status_code == 200
    for headers in ({}, bearer("prim-2"), {"Authorization": "prim-1"}, bearer("metrics-1")):
        response = requests.post(keyed.url + "/score", data=ECHO, headers=headers, timeout=5)
        assert response.status_code == 401, headers
        assert response.json()["message"] == "this service needs a key: send Authorization: Bearer <key>"
        assert response.headers["www-authenticate"].startswith("Bearer")
    for path in ("/ready", "/version", "/metrics", "/swagger.json"):
        assert requests.get(keyed.url + path, timeout=5).status_code == 401, path
    for key in ("prim-1", "second-1"):
        assert requests.post(keyed.url + "/score", data=ECHO, headers=bearer(key), timeout=5).status_code == 200
    assert requests.get(keyed.url + "/metrics", headers=bearer("metrics-1"), timeout=5).status_code == 200


def test_rotating_one_key_keeps_clients_of_the_other_served(keyed):
    def steady_client(seconds):
        statuses, deadline = [], time.monotonic() + seconds
        with requests.Session() as session:
            while time.monotonic() < deadline:
                answer = session.post(keyed.url + "/score", data=ECHO, headers=bearer("second-1"), timeout=5)
                statuses.append(answer.status_code)
        return statuses

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        client = pool.submit(steady_client, 3.0)
        time.sleep(0.5)
        write_keys(keyed.keys, "prim-2", "second-1", metrics="metrics-1")  # primary regenerated
        statuses = client.result()
    assert statuses and set(statuses) == {200}, statuses
    deadline = time.monotonic() + 5
    while requests.post(keyed.url + "/score", data=ECHO, headers=bearer("prim-2"), timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the new primary key was not taken up"
        time.sleep(0.1)
    assert requests.post(keyed.url + "/score", data=ECHO, headers=bearer("prim-1"), timeout=5).status_code == 401


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("# nothing yet\n", 0o600, "holds no primary or secondary key: auth would refuse everyone"),
        ("primary plain-key\n", 0o644, ":1: primary is a plain key in a file other users can read (mode 0644)"),
        ("primary sha256:abc\n", 0o600, ":1: primary's sha256 must be 64 hex digits"),
        ("owner sha256:abc\n", 0o600, ":1: expected '<primary|secondary|metrics> <key or sha256:hex>'"),
    ],
)
def test_unusable_key_files_are_refused_at_start(start_server, tmp_path, content, mode, message):
    keys = tmp_path / "keys"
    keys.write_text(content)
    keys.chmod(mode)
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--auth-key-file", keys])
    assert server.wait_exit() == 2
    assert message in server.log()


def test_tls_and_a_key_together_serve_a_client_that_sends_both(start_server, pki, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("primary only-key\n")
    keys.chmod(0o600)
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", *tls_args(pki), "--auth-key-file", keys])
    url = server.url.replace("http://", "https://")
    _wait_https(server, url, pki, bearer("only-key"))
    response = requests.post(f"{url}/score", data=ECHO, headers=bearer("only-key"), timeout=5, verify=pki / "ca.pem")
    assert response.status_code == 200 and json.loads(response.json()["raw"]) == {"action": "echo"}
