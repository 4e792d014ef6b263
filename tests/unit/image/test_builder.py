import tarfile
from collections import deque

from fleetdeploy.image.builder import _context_tar, _failure, environment_hash
from fleetdeploy.image.environment import ResolvedEnvironment
from fleetdeploy.image.templating import render_template


def test_env_hash_follows_base_image_and_requirements_only():
    env = ResolvedEnvironment(("numpy==1.26.4",), notices=("a notice",))
    same = ResolvedEnvironment(("numpy==1.26.4",))
    assert environment_hash("sha256:1", env) == environment_hash("sha256:1", same)
    assert environment_hash("sha256:1", env) != environment_hash("sha256:2", env)
    assert environment_hash("sha256:1", env) != environment_hash("sha256:1", ResolvedEnvironment(("numpy",)))
    assert len(environment_hash("sha256:1", env)) == 16


def test_server_dockerfile_runs_the_server_as_an_unprivileged_user():
    text = render_template(
        "server.Dockerfile.j2",
        env_image="sha256:e",
        wheel="fleetdeploy-0.1.0-py3-none-any.whl",
        ca_bundle=False,
        env_hash="h",
        server_version="0.1.0",
        server_hash="s",
    )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert "FROM sha256:e" in lines
    assert "USER 10001" in lines and "EXPOSE 6789" in lines
    assert lines[-1] == 'ENTRYPOINT ["fleetdeploy", "serve"]'
    assert "--no-deps" in text and "build-ca.pem" not in text
    assert 'fleetdeploy.server_version="0.1.0"' in text


def test_env_dockerfile_uses_the_ca_bundle_only_when_given():
    with_ca = render_template(
        "env.Dockerfile.j2", base_image="sha256:b", env_hash="h", ca_bundle=True, without_tests=("numpy",)
    )
    without = render_template(
        "env.Dockerfile.j2", base_image="sha256:b", env_hash="h", ca_bundle=False, without_tests=("numpy",)
    )
    assert "PIP_CERT=/tmp/fleetdeploy-env/build-ca.pem" in with_ca
    assert "build-ca.pem" not in without and "-r /tmp/fleetdeploy-env/requirements.txt" in without


def test_build_context_holds_exactly_the_given_files():
    with tarfile.open(
        fileobj=_context_tar({"Dockerfile": b"FROM x\n", "requirements.txt": b"numpy\n"})
    ) as tar:
        assert tar.getnames() == ["Dockerfile", "requirements.txt"]
        assert tar.extractfile("requirements.txt").read() == b"numpy\n"


def test_failure_message_names_the_step_and_its_last_lines():
    tail = deque(["Collecting nonexistent-pkg", "ERROR: No matching distribution found"])
    message = _failure("fleetdeploy-env:abc", "Step 3/4 : RUN python3 -m pip install", tail, "returned 1\n")
    assert message.startswith("building image fleetdeploy-env:abc failed at Step 3/4 : RUN python3 -m pip")
    assert "returned 1" in message and "  | ERROR: No matching distribution found" in message


def test_server_wheel_holds_the_server_and_not_controller_code():
    from fleetdeploy.image.server_wheel import server_pyproject, server_source_files

    names = set(server_source_files())
    assert {
        "fleetdeploy/cli/serve_cmd.py",
        "fleetdeploy/serve/requirements.txt",
        "fleetdeploy/errors.py",
    } <= names
    assert not any(
        name.startswith(("fleetdeploy/run/", "fleetdeploy/image/", "fleetdeploy/sandbox/")) for name in names
    )
    import tomllib

    project = tomllib.loads(server_pyproject())["project"]
    assert "uvicorn>=0.30" in project["dependencies"]
    assert "ansible" not in " ".join(project["dependencies"])
