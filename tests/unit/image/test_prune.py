import os

from fleetdeploy.image.prune import prune_saved_images


def test_keeps_the_most_recently_used_tarballs(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    # "ancient" was saved before tarballs were gzipped: pruned with the rest.
    for age, name in enumerate(["newest.tar.gz", "middle.tar.gz", "oldest.tar.gz", "ancient.tar"]):
        path = folder / name
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 - age * 10, 1_000_000 - age * 10))
    (folder / "partial.tar.gz.123.part").write_bytes(b"x")
    removed = prune_saved_images(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == ["ancient.tar", "oldest.tar.gz"]
    assert sorted(p.name for p in folder.iterdir()) == ["middle.tar.gz", "newest.tar.gz", "partial.tar.gz.123.part"]


def test_nothing_to_prune_without_a_cache(tmp_path):
    assert prune_saved_images(tmp_path / "missing") == []
