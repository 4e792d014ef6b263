"""Keeping the controller's disk in check: every environment or server change makes a new scoring
image, and each saved image is a tarball of hundreds of MB. Old ones are only needed again for a
rollback, and can be rebuilt or re-saved then."""

from __future__ import annotations

from pathlib import Path

import docker.errors

from fleetdeploy.dockerhost import docker_client


def prune_saved_images(cache_dir: Path, *, keep: int = 3) -> list[Path]:
    """Delete the files of all but the `keep` most recently written or reused images in <cache>/images/
    (each image: `<id>.tar.gz`, `<id>.tar.zst` and `<id>.json`, fleetdeploy.image.save)."""
    folder = Path(cache_dir) / "images"
    if not folder.is_dir():
        return []
    # *.tar: tarballs saved before they were gzipped, pruned with the rest. Partial files (*.part) belong
    # to a save under way.
    by_image: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if path.name.endswith((".tar.gz", ".tar.zst", ".json", ".tar")):
            by_image.setdefault(path.name.split(".", 1)[0], []).append(path)
    newest_first = sorted(by_image.values(), key=lambda files: max(f.stat().st_mtime for f in files), reverse=True)
    removed = []
    for files in newest_first[keep:]:
        for old in sorted(files):
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
