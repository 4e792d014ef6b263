"""Train the example model: a 784-feature LogisticRegression, as in the Azure ML MNIST tutorial.

MNIST itself would be a download; scikit-learn ships the 8x8 `digits` dataset instead. Each 8x8 image is
scaled to 20x20 and centred in a 28x28 frame with values in [0, 1] -- the way MNIST digits are laid out --
so the seed's client (784 normalised pixel values of a handwritten '2') works unmodified.

The seed's sample digit sits off-centre, wrapped around the row edges of its 28x28 frame. A linear model
does not generalise across such shifts on its own, so training adds copies of each digit rolled
horizontally (with wrap-around) by up to 14 columns; the seed's client then gets its '2'.
"""

import argparse
import warnings
from pathlib import Path

import joblib
import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def to_mnist_layout(images_8x8: np.ndarray) -> np.ndarray:
    """(n, 8, 8) values 0..16 -> (n, 784) values 0..1, digit in the central 20x20 box."""
    scaled = np.stack([zoom(img / 16.0, 2.5, order=1) for img in images_8x8]).clip(0.0, 1.0)
    framed = np.zeros((len(scaled), 28, 28))
    framed[:, 4:24, 4:24] = scaled
    return framed.reshape(len(scaled), 784)


HORIZONTAL_SHIFTS = (-14, -7, 0, 7, 14)


def with_horizontal_shifts(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = features.reshape(-1, 28, 28)
    shifted = [np.roll(frames, dx, axis=2).reshape(len(frames), 784) for dx in HORIZONTAL_SHIFTS]
    return np.concatenate(shifted), np.tile(labels, len(HORIZONTAL_SHIFTS))


def train(out: Path, seed: int = 0) -> float:
    digits = load_digits()
    features = to_mnist_layout(digits.images)
    x_train, x_test, y_train, y_test = train_test_split(
        features, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    # 300 iterations already give the accuracy printed; running lbfgs to full convergence costs a
    # minute on a small machine for no visible gain, so its warning is expected and silenced.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    model = LogisticRegression(max_iter=300, C=0.5)
    model.fit(*with_horizontal_shifts(x_train, y_train))
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    return model.score(x_test, y_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "model" / "sklearn_mnist_model.pkl")
    args = parser.parse_args()
    accuracy = train(args.out)
    print(f"wrote {args.out} (held-out accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
