"""Keeping the controller's disk in check: every environment or server change makes a new scoring
image, and each saved image is a tarball of hundreds of MB. Old ones are only needed again for a
rollback, and can be rebuilt or re-saved then."""

from __future__ import annotations

from pathlib import Path

import docker.errors

from fleetdeploy.dockerhost import docker_client


def prune_saved_images(cache_dir: Path, *, keep: int = 3) -> list[Path]:
    """Delete all but the `keep` most recently written or reused tarballs in <cache>/images/."""
    folder = Path(cache_dir) / "images"
    if not folder.is_dir():
        return []
    # *.tar: tarballs saved before they were gzipped, pruned with the rest.
    tarballs = sorted([*folder.glob("*.tar.gz"), *folder.glob("*.tar")], key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for old in tarballs[keep:]:
        old.unlink(missing_ok=True)
        removed.append(old)
    return removed


def prune_scoring_images(service: str, *, keep: int = 2) -> list[str]:
    """Untag all but the `keep` newest `fleetdeploy-<service>:*` images; layers still used stay."""
    client = docker_client()
    images = sorted(
        client.images.list(name=f"fleetdeploy-{service}"),
        key=lambda image: image.attrs["Created"],
        reverse=True,
    )
    removed = []
    for image in images[keep:]:
        for tag in image.tags:
            try:
                client.images.remove(tag)
            except docker.errors.APIError:  # used by a container: it is still needed
                continue
            removed.append(tag)
    return removed
