import hashlib

from fleetdeploy.serve.identity import environment_identity, list_model_dir, models_identity


def test_model_digest_covers_paths_and_contents(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.pkl").write_bytes(b"weights")
    (tmp_path / "sub" / "vocab.txt").write_bytes(b"words")
    identity = models_identity(tmp_path)
    weights, words = hashlib.sha256(b"weights").hexdigest(), hashlib.sha256(b"words").hexdigest()
    assert identity["files"] == {"model.pkl": weights, "sub/vocab.txt": words}
    listing = f"model.pkl  {weights}\nsub/vocab.txt  {words}\n"
    assert identity["sha256"] == hashlib.sha256(listing.encode()).hexdigest()

    (tmp_path / "sub" / "vocab.txt").rename(tmp_path / "vocab.txt")  # same bytes, other layout
    assert models_identity(tmp_path)["sha256"] != identity["sha256"]


def test_no_model_dir():
    assert models_identity(None) == {"dir": None, "sha256": None, "files": {}}


def test_environment_identity_is_stable():
    first, second = environment_identity(), environment_identity()
    assert first == second and first["packages"] > 0 and len(first["sha256"]) == 64


def test_listing_for_a_failed_init(tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"12345")
    assert "model.pkl  (5 bytes)" in list_model_dir(tmp_path)
    assert "(empty)" in list_model_dir(_empty(tmp_path))
    assert "does not exist" in list_model_dir(tmp_path / "missing")


def _empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty
