"""Model files made here with the real libraries (scikit-learn, joblib, numpy are dev requirements), and
pickles that would run code if loaded: the scanner must never load any of them."""

import os
import pickle

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge


class RunsCode:
    """Unpickling it calls os.system: the classic malicious model file."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/fleetdeploy-pickle-scan-must-never-run-this",))


@pytest.fixture(scope="session")
def ridge():
    """The seed's diabetes Ridge model, as its doc saves it (joblib.dump)."""
    x, y = load_diabetes(return_X_y=True)
    return Ridge().fit(x, y)


@pytest.fixture
def make_file(tmp_path):
    def make(name: str, value, how: str = "joblib", **options):
        path = tmp_path / name
        if how == "joblib":
            joblib.dump(value, path, **options)
        else:
            with open(path, "wb") as file:
                pickle.dump(value, file, **options)
        return path

    return make


@pytest.fixture
def object_array():
    return np.array([1, "a", None], dtype=object)
