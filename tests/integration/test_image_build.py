"""The scoring image builder against the real Docker engine: build, reuse, save, and serve /score
from a container whose entry script and model are mounted read-only (nothing user-specific inside)."""

import gzip
import io
import json
import os
import tarfile
import time
from dataclasses import replace

import pytest
import requests
import zstandard

from fleetdeploy.errors import ConfigError
from fleetdeploy.image import (
    EnvironmentInput,
    ImageBuildError,
    build_scoring_image,
    prune_scoring_images,
    save_image,
)

# The first run on a fresh machine also builds the python base image (debootstrap): minutes.
pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.timeout(900)]

SCORE_PY = """\
import json
import os

import six  # from the requirements file: proves the env image has them


def init():
    global weights
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "weights.json")) as fh:
        weights = json.load(fh)


def run(raw_data):
    data = json.loads(raw_data)["data"]
    return {"sum": sum(x * weights["factor"] for x in data), "six": six.__version__}
"""


@pytest.fixture(scope="session")
def docker_client():
    from fleetdeploy.dockerhost import docker_client

    return docker_client()


@pytest.fixture(scope="session")
def python_base(docker_client):
    """fleetdeploy/python:3.11-slim, built from its recipe when missing (takes minutes only once)."""
    from fleetdeploy.sandbox.images import PYTHON_BASE_IMAGE, ensure_images

    ensure_images(releases=(), python_base=True, client=docker_client)
    return PYTHON_BASE_IMAGE


@pytest.fixture(scope="session")
def built(python_base, docker_client, tmp_path_factory):
    folder = tmp_path_factory.mktemp("env")
    (folder / "requirements.txt").write_text("six==1.16.0\nazureml-defaults>=1.40\n")
    cache = tmp_path_factory.mktemp("cache")
    env = EnvironmentInput(pip=folder / "requirements.txt")
    lines: list[str] = []
    first = build_scoring_image(
        env, base_image=python_base, service="itest", progress=lines.append, cache_dir=cache
    )
    again: list[str] = []
    second = build_scoring_image(
        env, base_image=python_base, service="itest", progress=again.append, cache_dir=cache
    )
    yield first, second, lines, again, cache
    # Keep this session's image for the next run's cache; drop the ones older server code made.
    removed = prune_scoring_images("itest", keep=1)
    assert first.tag not in removed
    assert [tag for image in docker_client.images.list(name="fleetdeploy-itest") for tag in image.tags] == [
        first.tag
    ]


def test_second_build_reuses_both_images(built, docker_client):
    first, second, lines, again, _ = built
    assert second.env_cached and second.server_cached
    assert (second.image_id, second.env_image_id) == (first.image_id, first.env_image_id)
    assert any("fleetdeploy-env:" in line and "(cached)" in line for line in again)
    assert not any(line.startswith("Step ") for line in again), "nothing may be rebuilt"
    assert any("azureml-defaults" in line and "replaces" in line for line in lines)
    # What takes the space, said on every build (the sizes as `docker images` counts them).
    size = docker_client.images.get(first.image_id).attrs["Size"]
    assert any(line.startswith(f"scoring image {first.tag}: {size / 1e6:.0f} MB (base image ") for line in again)


def test_image_is_labelled_and_runs_the_server_unprivileged(built, docker_client):
    first = built[0]
    image = docker_client.images.get(first.tag)
    assert image.id == first.image_id
    assert image.labels["fleetdeploy.env_hash"] == first.env_hash
    assert image.labels["fleetdeploy.server_version"] == first.server_version
    config = image.attrs["Config"]
    assert config["User"] == "10001"
    assert config["Entrypoint"] == ["fleetdeploy", "serve"]
    assert "6789/tcp" in config["ExposedPorts"]
    # The server's controller-only dependencies stay out of the image.
    out = docker_client.containers.run(
        first.image_id,
        [
            "-c",
            "import importlib.util as u; print([m for m in ('ansible', 'docker', 'azureml') if u.find_spec(m)])",
        ],
        entrypoint="python",
        remove=True,
        network_disabled=True,
    )
    assert out.decode().strip() == "[]"


def test_container_scores_with_mounted_script_and_model(built, docker_client, tmp_path):
    first = built[0]
    code, model = tmp_path / "code", tmp_path / "azureml-models" / "toy" / "1"
    code.mkdir()
    model.mkdir(parents=True)
    (code / "score.py").write_text(SCORE_PY)
    (model / "weights.json").write_text(json.dumps({"factor": 2}))
    for path in [tmp_path, *tmp_path.rglob("*")]:  # the server runs as uid 10001
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    container = docker_client.containers.run(
        first.image_id,
        detach=True,
        environment={
            "AZUREML_ENTRY_SCRIPT": "score.py",
            "AZUREML_MODEL_DIR": "/var/azureml-app/azureml-models/toy/1",
        },
        volumes={
            str(code): {"bind": "/var/azureml-app/code", "mode": "ro"},
            str(tmp_path / "azureml-models"): {"bind": "/var/azureml-app/azureml-models", "mode": "ro"},
        },
        ports={"6789/tcp": ("127.0.0.1", None)},
        labels={"fleetdeploy.test": "image-build"},
    )
    try:
        container.reload()
        port = container.ports["6789/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, container)
        response = requests.post(f"{url}/score", data=json.dumps({"data": [1, 2, 3]}), timeout=10)
        assert response.status_code == 200, response.text
        assert response.json() == {"sum": 12, "six": "1.16.0"}
    finally:
        container.remove(force=True)


def test_save_image_writes_the_gzip_and_zstd_tarballs_once(built, docker_client):
    first, _, _, _, cache = built
    saved = save_image(first, cache)
    stem = cache / "images" / first.image_id.removeprefix("sha256:")
    assert (saved.path, saved.zstd_path) == (stem.with_suffix(".tar.gz"), stem.with_suffix(".tar.zst"))
    assert saved.size == saved.path.stat().st_size > 10_000_000 and not saved.reused
    with open(saved.path, "rb") as raw:
        assert raw.read(2) == b"\x1f\x8b", "the tarball is not gzipped"
    # Both hold the same `docker save` tar, whose size is recorded (the space a node's data root needs).
    with gzip.open(saved.path) as plain:
        from_gzip = plain.read()
    with open(saved.zstd_path, "rb") as raw:
        from_zstd = zstandard.ZstdDecompressor().stream_reader(raw).read()
    assert from_gzip == from_zstd and saved.tar_bytes == len(from_gzip)
    assert saved.zstd_path.stat().st_size < saved.size
    with tarfile.open(fileobj=io.BytesIO(from_zstd)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [first.tag]
    inodes = saved.path.stat().st_ino, saved.zstd_path.stat().st_ino
    again = save_image(first.image_id, cache)
    assert again.reused and again == replace(saved, reused=True)
    assert (again.path.stat().st_ino, again.zstd_path.stat().st_ino) == inodes
    # A cache without the record (an earlier fleetdeploy's, or a save cut short) is saved again.
    stem.with_suffix(".json").unlink()
    assert not save_image(first.image_id, cache).reused


def test_failed_pip_install_reports_the_step_and_pip_error(python_base, tmp_path):
    (tmp_path / "requirements.txt").write_text("fleetdeploy-no-such-package-e7==0.0.1\n")
    stages, log = [], []
    with pytest.raises(ImageBuildError) as info:
        build_scoring_image(
            EnvironmentInput(pip=tmp_path / "requirements.txt"),
            base_image=python_base,
            service="itest",
            cache_dir=tmp_path / "cache",
            progress=stages.append,
            build_log=log.append,
        )
    message = str(info.value)
    assert "fleetdeploy-env:" in message and "RUN " in message and "pip install" in message
    assert "fleetdeploy-no-such-package-e7" in message
    # Stages and Docker's own output go to their own callbacks.
    assert [line.split(" fleetdeploy-env:")[0] for line in stages] == ["building env image"]
    assert any(line.startswith("Step 1/") for line in log)


def test_conda_python_pin_is_checked_against_the_base_image(python_base, tmp_path):
    (tmp_path / "env.yml").write_text("dependencies:\n  - python=3.8\n  - pip\n  - pip: [six]\n")
    with pytest.raises(
        ConfigError, match=r"env.yml: asks for python ==3.8.\* but base image .* has Python 3\.11\."
    ):
        build_scoring_image(
            EnvironmentInput(conda=tmp_path / "env.yml"), base_image=python_base, service="itest"
        )


def test_missing_base_image_is_explained(docker_client, tmp_path):
    from fleetdeploy.errors import EnvironmentProblem

    (tmp_path / "requirements.txt").write_text("six\n")
    with pytest.raises(EnvironmentProblem, match="environment.base_image: image fleetdeploy/nope:0 is not"):
        build_scoring_image(
            EnvironmentInput(pip=tmp_path / "requirements.txt"), base_image="fleetdeploy/nope:0", service="x"
        )


def _wait_ready(url: str, container, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.3)
    logs = container.logs().decode(errors="replace")[-3000:]
    pytest.fail(f"scoring container not ready after {timeout}s (status {container.status}):\n{logs}")


def test_base_image_without_python_is_explained_and_leaves_no_container(python_base, docker_client, tmp_path):
    from fleetdeploy.errors import EnvironmentProblem
    from fleetdeploy.sandbox.images import debian_recipe

    (tmp_path / "env.yml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - six\n")
    no_python = debian_recipe("bookworm").tag  # the python base's parent: a bare Debian
    with pytest.raises(
        EnvironmentProblem, match=rf"environment.base_image: {no_python} has no working `python3`"
    ):
        build_scoring_image(
            EnvironmentInput(conda=tmp_path / "env.yml"), base_image=no_python, service="itest"
        )
    assert (
        docker_client.containers.list(all=True, filters={"label": "fleetdeploy.probe=python-version"}) == []
    )
