"""The content digests fleetdeploy's two sides must agree on: the controller stages models and code
with them, and the scoring server reports them at /version, so drift checks compare like with like.
Standard library only: this module ships inside every scoring image."""

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def listing_digest(files: dict[str, str]) -> str:
    """sha256 of the sorted lines "<relative path>  <file sha256>\\n" (defined in docs/serve.md)."""
    listing = "".join(f"{name}  {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(listing.encode()).hexdigest()
