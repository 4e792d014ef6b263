"""Benchmark: how the scoring image's tarball is compressed for nodes without a registry
(fleetdeploy.image.save): gzip at level 1, the peer every node can read, against zstd at the levels
around the one kept (9), for nodes that have the `zstd` tool.

For one image (default: the newest `fleetdeploy-*` image in the local engine, e.g. the example's after
`make demo`), `docker save` is read once into memory; then each codec compresses it on one thread
(time and size), and the result is decompressed again (the time a node spends unpacking before
`docker load`, checked to give the same bytes back). Ratios are against gzip -1 measured in the same run.

    .venv/bin/python bench/image/compress.py [IMAGE]     # or: make bench-image

Writes bench/image/results/latest.txt.
"""

from __future__ import annotations

import gzip
import sys
import time
from datetime import date
from pathlib import Path

import docker
import zstandard

RESULTS = Path(__file__).parent / "results" / "latest.txt"


def newest_scoring_image(client) -> str:
    images = [image for image in client.images.list() if any(t.startswith("fleetdeploy-") for t in image.tags)]
    if not images:
        sys.exit("no fleetdeploy-* image in the local engine: run `make demo` first, or name one")
    newest = max(images, key=lambda image: image.attrs["Created"])
    return next(t for t in newest.tags if t.startswith("fleetdeploy-"))


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def main() -> None:
    client = docker.from_env()
    ref = sys.argv[1] if len(sys.argv) > 1 else newest_scoring_image(client)
    tar = b"".join(client.images.get(ref).save(named=True))
    codecs = {
        "gzip -1 (peer)": (lambda: gzip.compress(tar, compresslevel=1, mtime=0), gzip.decompress),
        "zstd -3": (lambda: zstandard.ZstdCompressor(level=3).compress(tar),
                    lambda data: zstandard.ZstdDecompressor().decompress(data)),
        "zstd -9 (kept)": (lambda: zstandard.ZstdCompressor(level=9).compress(tar),
                           lambda data: zstandard.ZstdDecompressor().decompress(data)),
        "zstd -12": (lambda: zstandard.ZstdCompressor(level=12).compress(tar),
                     lambda data: zstandard.ZstdDecompressor().decompress(data)),
    }
    rows = []
    for name, (compress, decompress) in codecs.items():
        packed, packing = timed(compress)
        unpacked, unpacking = timed(lambda packed=packed, decompress=decompress: decompress(packed))
        assert unpacked == tar, f"{name} did not give the tar back"
        rows.append((name, len(packed), packing, unpacking))
    peer = rows[0]
    lines = [
        f"# bench/image/compress.py, {date.today()}: {ref}, docker save {len(tar) / 1e6:.1f} MB, one thread each",
        f"{'codec':<16} {'MB':>8} {'x gzip':>7} {'compress s':>11} {'x gzip':>7} {'unpack s':>9} {'x gzip':>7}",
    ]
    for name, size, packing, unpacking in rows:
        lines.append(f"{name:<16} {size / 1e6:8.1f} {size / peer[1]:7.2f} {packing:11.2f} {packing / peer[2]:7.2f}"
                     f" {unpacking:9.2f} {unpacking / peer[3]:7.2f}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
