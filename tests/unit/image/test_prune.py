import os

from fleetdeploy.image.prune import prune_saved_images


def test_keeps_the_most_recently_used_tarballs(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for age, name in enumerate(["newest", "middle", "oldest", "ancient"]):
        path = folder / f"{name}.tar"
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 - age * 10, 1_000_000 - age * 10))
    (folder / "partial.tar.123.part").write_bytes(b"x")
    removed = prune_saved_images(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == ["ancient.tar", "oldest.tar"]
    assert sorted(p.name for p in folder.iterdir()) == ["middle.tar", "newest.tar", "partial.tar.123.part"]


def test_nothing_to_prune_without_a_cache(tmp_path):
    assert prune_saved_images(tmp_path / "missing") == []
