"""Saving a scoring image as tarballs that ship to nodes without a registry (`docker load`).

One pass over `docker save` writes two compressions of it, once per image:
- gzip at level 1, which every node reads: `docker load` unpacks gzip itself (Docker 20.10, Debian
  bookworm's engine, included), so the node needs nothing else;
- zstd at level 9, for nodes that have the `zstd` tool (the role pipes `zstd -dc` into `docker load`:
  Docker 20.10 does not read zstd itself).
For the example's image (455 MB as a plain tar): gzip 174 MB, zstd 119 MB (0.68x); both files in 11.9 s
against 9.1 s for the gzip alone, zstd running in its own threads beside gzip; a node unpacks zstd in
0.8 s against gzip's 2.7 s (bench/image/compress.py, docs/image.md). Sent as a plain tar it was
compressed by SSH instead (Ansible's `ssh -C`, zlib level 6), once per node and per transfer: 71 s to one
sandbox node against 31 s for the gzip.

A third file, `<id>.json`, records the plain tar's size (the space Docker's data root needs at least) and
is written last: the three files exist together or the image is saved again."""

from __future__ import annotations

import gzip
import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import zstandard

from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import EnvironmentProblem
from fleetdeploy.image.builder import BuiltImage

ZSTD_LEVEL = 9


@dataclass(frozen=True)
class SavedImage:
    path: Path  # the gzip tarball
    size: int
    image_id: str
    reused: bool  # True: the tarballs were already in the cache
    zstd_path: Path
    tar_bytes: int  # the plain `docker save` output's size


def save_image(image: BuiltImage | str, cache_dir: Path) -> SavedImage:
    """Write `<cache>/images/<image id hex>.tar.gz`, `.tar.zst` and `.json` once; an image id names its
    content, so tarballs that exist are the right ones and are reused as they are."""
    ref = image.tag if isinstance(image, BuiltImage) else image
    client = docker_client()
    try:
        found = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(f"image {ref} is not in the local Docker engine; build it first") from None
    stem = Path(cache_dir) / "images" / found.id.removeprefix("sha256:")
    gz, zst, record = (stem.with_name(stem.name + suffix) for suffix in (".tar.gz", ".tar.zst", ".json"))
    reused = record.is_file() and gz.is_file() and zst.is_file()
    if reused:
        for path in (gz, zst, record):
            os.utime(path)  # marks them as recently used for prune_saved_images
    else:
        stem.parent.mkdir(parents=True, exist_ok=True)
        tar_bytes = _write_compressed(found, gz, zst)
        _replace(record, json.dumps({"image_id": found.id, "tar_bytes": tar_bytes}).encode())
    tar_bytes = json.loads(record.read_text())["tar_bytes"]
    return SavedImage(gz, gz.stat().st_size, found.id, reused, zst, tar_bytes)


def _write_compressed(found, gz: Path, zst: Path) -> int:
    parts = [target.with_name(f"{target.name}.{os.getpid()}.part") for target in (gz, zst)]
    total = 0
    try:
        with ExitStack() as files:
            raw_gz, raw_zst = (files.enter_context(open(part, "wb")) for part in parts)
            # mtime=0: no timestamp of ours in the header; the bytes depend on what docker save gives only.
            to_gz = files.enter_context(gzip.GzipFile(fileobj=raw_gz, mode="wb", compresslevel=1, mtime=0))
            # threads=-1: zstd compresses in its own worker threads while this one runs gzip.
            to_zst = files.enter_context(
                zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1).stream_writer(raw_zst, closefd=False))
            # named=True keeps the tag in the tarball, so `docker load` on a node restores it.
            for chunk in found.save(named=True):
                to_gz.write(chunk)
                to_zst.write(chunk)
                total += len(chunk)
        for part, target in zip(parts, (gz, zst), strict=True):
            part.rename(target)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return total


def _replace(path: Path, content: bytes) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(content)
    partial.rename(path)
