"""Saving a scoring image as a tarball that ships to nodes without a registry (`docker load`).

Gzipped, at level 1, once per image: 517 MB of the example's image become 194 MB for 10 s of one core
on the controller. Sent as is, the tarball was compressed by SSH itself (Ansible's `ssh -C`, zlib level
6) once per node and per transfer: copying it to one sandbox node took 71 s against 31 s for the gzip,
measured side by side under the same load (docs/image.md). `docker load` reads gzip by itself (Docker
20.10, Debian bookworm's engine, included), so the node needs nothing else."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import EnvironmentProblem
from fleetdeploy.image.builder import BuiltImage


@dataclass(frozen=True)
class SavedImage:
    path: Path
    size: int
    image_id: str
    reused: bool  # True: the tarball was already in the cache


def save_image(image: BuiltImage | str, cache_dir: Path) -> SavedImage:
    """Write `<cache>/images/<image id hex>.tar.gz` once; an image id names its content, so a tarball
    that exists is the right one and is reused as is."""
    ref = image.tag if isinstance(image, BuiltImage) else image
    client = docker_client()
    try:
        found = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(f"image {ref} is not in the local Docker engine; build it first") from None
    path = Path(cache_dir) / "images" / f"{found.id.removeprefix('sha256:')}.tar.gz"
    if path.is_file():
        os.utime(path)  # marks it as recently used for prune_saved_images
        return SavedImage(path, path.stat().st_size, found.id, reused=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        # named=True keeps the tag in the tarball, so `docker load` on a node restores it.
        # mtime=0: no timestamp of ours in the header; the bytes depend on what docker save gives only.
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
            out.writelines(found.save(named=True))
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return SavedImage(path, path.stat().st_size, found.id, reused=False)
