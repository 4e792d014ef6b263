"""exec_output against the real engine: output, exit code and arguments come back whole."""

import pytest

from fleetdeploy.dockerhost import docker_client, exec_output

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.timeout(300)]

IMAGE = "fleetdeploy/debian:trixie"  # scripts/build-images.sh makes it


@pytest.fixture(scope="module")
def container():
    client = docker_client()
    # /tmp a tmpfs, as systemd mounts it on a sandbox node: the output must not be kept where only the
    # container's processes see it.
    running = client.containers.run(
        IMAGE, ["sleep", "600"], detach=True, remove=True, network_mode="none", tmpfs={"/tmp": ""}
    )
    yield running
    running.kill()


def test_output_exit_code_and_arguments_come_back_whole(container):
    code, text = exec_output(container, ["sh", "-c", 'printf "%s|" "$@"; echo err >&2; exit 3', "sh", "a b", "it's"])
    assert code == 3
    assert text == "a b|it's|err\n"


def test_many_quick_commands_each_return_their_output(container):
    # The calls exec_run's own stream loses now and then: a command that prints a line and exits at once.
    answers = [exec_output(container, ["echo", str(i)]) for i in range(60)]
    assert answers == [(0, f"{i}\n") for i in range(60)]


def test_a_missing_command_is_named_and_leaves_no_file(container):
    code, text = exec_output(container, ["no-such-command"])
    assert code == 127 and "no-such-command" in text
    # The one file left while this listing runs is the listing's own output.
    assert exec_output(container, ["sh", "-c", "ls -a /var/tmp | grep -c fleetdeploy-exec"]) == (0, "1\n")
