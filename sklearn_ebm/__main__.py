"""Demo: ``python -m sklearn_ebm``.

Fits an energy-based model on the benign tumours of scikit-learn's breast
cancer data, then scores held-out benign and malignant tumours: an outlier
detection task with known answers. Prints ROC-AUC next to IsolationForest's
in the same run, checks the model's samples against the data, and writes a
PNG of the energy landscape and the training curves (with matplotlib).
"""

import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_ebm import EnergyBasedModel


def _timed_fit(estimator, X):
    start = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - start


def main(random_state=0):
    data = load_breast_cancer()
    X, malignant = data.data, data.target == 0
    benign_train, benign_test = train_test_split(X[~malignant], test_size=0.3, random_state=random_state)
    X_test = np.vstack([benign_test, X[malignant]])
    is_outlier = np.r_[np.zeros(len(benign_test)), np.ones(malignant.sum())]
    print(
        f"Breast cancer data (scikit-learn): fit on {len(benign_train)} benign tumours, "
        f"{X.shape[1]} features; score {len(benign_test)} benign and {malignant.sum()} malignant."
    )

    ebm = EnergyBasedModel(random_state=random_state)
    forest = IsolationForest(random_state=random_state)
    ebm_seconds = _timed_fit(ebm, benign_train)
    forest_seconds = _timed_fit(forest, benign_train)
    ebm_auc = roc_auc_score(is_outlier, -ebm.score_samples(X_test))
    forest_auc = roc_auc_score(is_outlier, -forest.score_samples(X_test))

    print("\nMalignant tumours as outliers (ROC-AUC, higher is better):")
    print(f"  EnergyBasedModel  {ebm_auc:.3f}   fit {ebm_seconds:5.1f} s, {ebm.n_iter_} epochs on {ebm.device_}")
    print(f"  IsolationForest   {forest_auc:.3f}   fit {forest_seconds:5.1f} s")

    samples = ebm.sample(500, random_state=random_state)
    names = data.feature_names[:3]
    print("\nModel samples next to the benign training data (first three features):")
    print(f"  {'feature':<16}{'data mean':>12}{'sample mean':>13}{'data std':>11}{'sample std':>12}")
    for j, name in enumerate(names):
        print(
            f"  {name:<16}{benign_train[:, j].mean():12.3f}{samples[:, j].mean():13.3f}"
            f"{benign_train[:, j].std():11.3f}{samples[:, j].std():12.3f}"
        )
    _write_figure(ebm, benign_train, Path("sklearn_ebm_demo.png"), random_state)
    return ebm_auc, forest_auc


def _write_figure(model, X, path, random_state):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nInstall matplotlib (pip install 'sklearn-ebm[plot]') for a picture of the model.")
        return
    from sklearn_ebm import EnergyLandscapeDisplay, TrainingCurveDisplay

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    EnergyLandscapeDisplay.from_estimator(model, X, random_state=random_state, ax=left)
    left.set_title("Energy over the first two features (others at their mean)")
    TrainingCurveDisplay.from_estimator(model, ax=right)
    right.set_title("Training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nWrote {path.resolve()}: the energy landscape with data and samples, and the training curves.")


if __name__ == "__main__":
    main()
