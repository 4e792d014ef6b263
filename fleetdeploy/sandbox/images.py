"""Node and base images built locally from Debian packages, never pulled from a registry.

fleetdeploy/debian:<release> is a debootstrap rootfs `docker import`ed; the node and python images are
Dockerfile layers on top. Every image carries the hash of its recipe (files, build arguments and its
parent's hash) as a label, and is rebuilt only when that hash changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from fleetdeploy.errors import EnvironmentProblem

RELEASES = ("bookworm", "trixie")
DOCKER_MODES = ("absent", "preinstalled")
PYTHON_BASE_IMAGE = "fleetdeploy/python:3.11-slim"
RECIPE_LABEL = "fleetdeploy.recipe"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# The python stand-in is "Debian bookworm's python3", which is 3.11 like the image it replaces.
_PYTHON_BASE_RELEASE = "bookworm"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    """How to make one image: a folder of recipe files, build arguments and the image it starts from."""

    tag: str
    folder: Path
    build_args: tuple[tuple[str, str], ...] = ()
    parent: Recipe | None = None
    digest: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "digest", _digest(self))


@dataclass(frozen=True)
class ImageResult:
    tag: str
    built: bool  # False: an image with the same recipe hash already existed


def images_dir() -> Path:
    """The recipes folder: package data `fleetdeploy/sandbox/recipes/` (in a checkout, a link to `images/`
    at its top), so `sandbox` works from a pip install too; FLEETDEPLOY_IMAGES_DIR overrides it."""
    folder = Path(os.environ.get("FLEETDEPLOY_IMAGES_DIR") or Path(__file__).resolve().parent / "recipes")
    if not (folder / "node" / "Dockerfile").is_file():
        raise EnvironmentProblem(
            f"image recipes not found in {folder}; reinstall fleetdeploy, or set FLEETDEPLOY_IMAGES_DIR"
        )
    return folder


def node_image(release: str, docker_mode: str) -> str:
    return (
        f"fleetdeploy/node:{release}-docker"
        if docker_mode == "preinstalled"
        else f"fleetdeploy/node:{release}"
    )


def debian_recipe(release: str) -> Recipe:
    return Recipe(f"fleetdeploy/debian:{release}", images_dir() / "debian", (("RELEASE", release),))


def node_recipe(release: str, docker_mode: str) -> Recipe:
    parent = debian_recipe(release)
    args = (("BASE_IMAGE", parent.tag), ("DOCKER", docker_mode))
    return Recipe(node_image(release, docker_mode), images_dir() / "node", args, parent)


def python_recipe() -> Recipe:
    parent = debian_recipe(_PYTHON_BASE_RELEASE)
    return Recipe(PYTHON_BASE_IMAGE, images_dir() / "python", (("BASE_IMAGE", parent.tag),), parent)


def ensure_images(
    releases: Iterable[str] = RELEASES,
    docker_preinstalled: bool | Iterable[bool] = False,
    python_base: bool = True,
    client: docker.DockerClient | None = None,
    progress: Progress | None = None,
) -> list[ImageResult]:
    """Build whichever of the node images (and the python base image) are missing or out of date.

    `docker_preinstalled` is one flag or several, e.g. (True, False) for both node variants.
    """
    from fleetdeploy.dockerhost import docker_client

    client = client or docker_client()
    flags = {docker_preinstalled} if isinstance(docker_preinstalled, bool) else set(docker_preinstalled)
    recipes = [
        node_recipe(r, "preinstalled" if f else "absent") for r in dict.fromkeys(releases) for f in flags
    ]
    if python_base:
        recipes.append(python_recipe())
    say = progress or (lambda _msg: None)
    # One Debian release's images never stand on another's: build each release's chain in its own thread.
    # debootstrap and apt spend most of their time waiting on the mirror, so two chains take little more
    # than the longer one.
    chains: dict[str, list[Recipe]] = {}
    for recipe in recipes:
        chains.setdefault(_root(recipe).tag, []).append(recipe)
    results = [{} for _ in chains]
    with ThreadPoolExecutor(max_workers=max(1, len(chains))) as pool:
        futures = [
            pool.submit(_ensure_chain, client, chain, found, say)
            for chain, found in zip(chains.values(), results)
        ]
        for future in futures:
            future.result()
    return [result for found in results for result in found.values()]


def _root(recipe: Recipe) -> Recipe:
    while recipe.parent is not None:
        recipe = recipe.parent
    return recipe


def _ensure_chain(client, recipes: list[Recipe], results: dict[str, ImageResult], progress: Progress) -> None:
    for recipe in recipes:
        _ensure(client, recipe, results, progress)


def _ensure(client, recipe: Recipe, results: dict[str, ImageResult], progress: Progress) -> None:
    if recipe.tag in results:
        return
    try:
        previous = client.images.get(recipe.tag)
    except ImageNotFound:
        previous = None
    if previous is not None and (previous.labels or {}).get(RECIPE_LABEL) == recipe.digest:
        # Its hash covers its parent's recipe, so the parent need not even exist any more.
        results[recipe.tag] = ImageResult(recipe.tag, built=False)
        return
    if recipe.parent is not None:
        _ensure(client, recipe.parent, results, progress)
    progress(f"building image {recipe.tag} (recipe {recipe.digest[:12]}; takes a minute or two)")
    if recipe.parent is None:
        _import_debootstrap(client, recipe)
    else:
        _build_dockerfile(client, recipe)
    results[recipe.tag] = ImageResult(recipe.tag, built=True)
    if previous is not None:
        _remove_replaced(client, previous.id)


def _remove_replaced(client, image_id: str) -> None:
    """Free the space of the image a rebuild replaced, unless a container or another image uses it."""
    try:
        client.images.remove(image_id)
    except APIError:
        pass  # still in use; `docker image prune` frees it once it is not


def _import_debootstrap(client, recipe: Recipe) -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            f"building {recipe.tag} runs debootstrap, which needs root; "
            "run `sudo scripts/build-images.sh` once, then retry"
        )
    if shutil.which("debootstrap") is None:
        raise EnvironmentProblem(
            f"building {recipe.tag} needs debootstrap; install it with scripts/bootstrap.sh "
            "(or `apt-get install debootstrap`)"
        )
    release = dict(recipe.build_args)["RELEASE"]
    mirror = os.environ.get("FLEETDEPLOY_DEBIAN_MIRROR", DEFAULT_MIRROR)
    workdir = Path(tempfile.mkdtemp(prefix=f"fleetdeploy-rootfs-{release}-"))
    rootfs = workdir / "rootfs"
    try:
        made = subprocess.run(
            ["sh", str(recipe.folder / "debootstrap.sh"), release, str(rootfs), mirror],
            capture_output=True,
            text=True,
            check=False,  # the output goes into the error below
        )
        if made.returncode != 0:
            tail = "\n".join((made.stdout + made.stderr).strip().splitlines()[-15:])
            raise EnvironmentProblem(f"debootstrap of Debian {release} from {mirror} failed:\n{tail}")
        # Stream the rootfs straight into `docker import`: no tarball is kept on disk.
        with subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
        ) as tar:
            repository, tag = recipe.tag.split(":")
            client.api.import_image(
                src=tar.stdout,
                stream_src=True,
                repository=repository,
                tag=tag,
                changes=[f"LABEL {RECIPE_LABEL}={recipe.digest}", 'CMD ["/bin/bash"]'],
            )
        if tar.returncode != 0:
            # The engine tagged whatever part of the stream arrived; that is not a usable image.
            client.images.remove(recipe.tag, force=True)
            raise EnvironmentProblem(f"tar of the Debian {release} rootfs in {rootfs} failed")
    finally:
        _remove_rootfs(workdir)


def _remove_rootfs(workdir: Path) -> None:
    # debootstrap bind-mounts /dev, /proc and /sys into the rootfs; if it died with them still mounted,
    # deleting the tree would reach into the host's. Unmount first and keep the folder if that fails.
    for point in sorted(_mounts_under(workdir), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    if not _mounts_under(workdir):
        shutil.rmtree(workdir, ignore_errors=True)


def _mounts_under(folder: Path) -> list[str]:
    points = (line.split()[1] for line in Path("/proc/mounts").read_text().splitlines())
    return [point for point in points if point.startswith(f"{folder}/")]


def _build_dockerfile(client, recipe: Recipe) -> None:
    try:
        client.images.build(
            path=str(recipe.folder),
            tag=recipe.tag,
            buildargs=dict(recipe.build_args),
            labels={RECIPE_LABEL: recipe.digest},
            pull=False,
            rm=True,
            forcerm=True,
        )
    except BuildError as exc:
        lines = [str(item.get("stream") or item.get("error") or "").rstrip() for item in exc.build_log]
        tail = "\n".join(line for line in lines if line)[-3000:]
        raise EnvironmentProblem(
            f"building {recipe.tag} from {recipe.folder} failed: {exc.msg}\n{tail}"
        ) from exc


def _digest(recipe: Recipe) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in recipe.folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(recipe.folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    for key, value in sorted(recipe.build_args):
        h.update(f"{key}={value}\0".encode())
    if recipe.parent is not None:
        h.update(recipe.parent.digest.encode())
    return h.hexdigest()
