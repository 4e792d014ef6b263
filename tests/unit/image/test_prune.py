import os

from fleetdeploy.image.prune import prune_saved_images


def test_keeps_the_files_of_the_most_recently_used_images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    # Each image has its gzip, zstd and record; "ancient" was saved before tarballs were gzipped.
    files = {"newest": [".tar.gz", ".tar.zst", ".json"], "middle": [".tar.gz", ".tar.zst", ".json"],
             "oldest": [".tar.gz", ".tar.zst", ".json"], "ancient": [".tar"]}
    for age, (image, suffixes) in enumerate(files.items()):
        for suffix in suffixes:
            path = folder / f"{image}{suffix}"
            path.write_bytes(b"x")
            os.utime(path, (1_000_000 - age * 10, 1_000_000 - age * 10))
    # Reusing "middle" touched only its record (say): the image counts as used then.
    os.utime(folder / "middle.json", (2_000_000, 2_000_000))
    (folder / "partial.tar.gz.123.part").write_bytes(b"x")
    removed = prune_saved_images(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == ["ancient.tar", "oldest.json", "oldest.tar.gz", "oldest.tar.zst"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "middle.json", "middle.tar.gz", "middle.tar.zst",
        "newest.json", "newest.tar.gz", "newest.tar.zst", "partial.tar.gz.123.part"]


def test_nothing_to_prune_without_a_cache(tmp_path):
    assert prune_saved_images(tmp_path / "missing") == []
