"""Rebuild ``data/train.npz`` and ``hidden/test.npz`` from scikit-learn's copy of the digits.

The grader never runs this: the two files it writes are committed. It documents where they
come from and lets course staff rebuild them (or build a split of their own) without
scikit-learn as a dependency. Get the CSV once from the scikit-learn wheel::

    pip download scikit-learn --no-deps -d /tmp/skl
    unzip -o /tmp/skl/scikit_learn-*.whl 'sklearn/datasets/data/digits.csv.gz' -d /tmp/skl
    python assignments/lenet/prepare_data.py /tmp/skl/sklearn/datasets/data/digits.csv.gz

``digits.csv.gz`` holds one image per row: 64 pixel counts (0..16, row by row) and the
digit, which is what ``sklearn.datasets.load_digits`` reads. The split is stratified: for
each digit, a seeded permutation of its images puts ``TEST_FRACTION`` of them (rounded) in
the hidden test split and the rest in the training split, both in their original order.
The files hold the raw counts as uint8 (``images`` (N, 8, 8), ``labels`` (N,)); the checks
scale them to [0, 1] and apply the course secret to the hidden inputs when grading.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
#: sha256 of ``sklearn/datasets/data/digits.csv.gz`` in scikit-learn 1.9.1 (unchanged for years).
SOURCE_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
SPLIT_SEED = 20260515
TEST_FRACTION = 0.2


def read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 images as uint8 (N, 8, 8) pixel counts and their uint8 digits."""
    with gzip.open(path, "rt") as text:
        rows = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if rows.shape != (1797, 65) or rows.min() < 0 or rows[:, :64].max() > 16 or rows[:, 64].max() > 9:
        raise SystemExit(f"{path}: not scikit-learn's digits.csv.gz (shape {rows.shape})")
    return rows[:, :64].reshape(-1, 8, 8).astype(np.uint8), rows[:, 64].astype(np.uint8)


def test_mask(labels: np.ndarray, seed: int = SPLIT_SEED, fraction: float = TEST_FRACTION) -> np.ndarray:
    """True for the images of the hidden test split: ``fraction`` of each digit, chosen by ``seed``."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        chosen = rng.permutation(members)[:round(len(members) * fraction)]
        mask[chosen] = True
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="sklearn/datasets/data/digits.csv.gz")
    args = parser.parse_args()
    digest = hashlib.sha256(args.csv.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        print(f"note: {args.csv} has sha256 {digest}, not the {SOURCE_SHA256} these files were built from")
    images, labels = read_digits(args.csv)
    hidden = test_mask(labels)
    for path, keep in ((HERE / "data" / "train.npz", ~hidden), (HERE / "hidden" / "test.npz", hidden)):
        path.parent.mkdir(exist_ok=True)
        np.savez_compressed(path, images=images[keep], labels=labels[keep])
        print(f"wrote {path.relative_to(HERE)}: {int(keep.sum())} images")


if __name__ == "__main__":
    main()
