"""
Tuning an outlier detector with GridSearchCV and outlier labels
===============================================================

Labelled outlier data usually marks the outliers with 1 (ADBench, PyOD, ODDS
and :func:`sklearn_ebm.datasets.load_breastw` do). scikit-learn's
``scoring="roc_auc"`` reads such labels the other way round: it takes the
larger label as the class that scores high, while a detector's scores are
high for *inliers*. It reports one minus the ROC-AUC, and a grid search
picks the worst candidate, with no error or warning.

:func:`sklearn_ebm.outlier_scorer` states which label marks the outliers and
grades ``-score_samples`` against it. This example tunes
:class:`sklearn_ebm.EBMOutlierDetector` on the Wisconsin breast cancer data
with it, next to what ``scoring="roc_auc"`` would have chosen.

Run it with ``python docs/examples/plot_grid_search_outlier_scorer.py``.
"""

# %%
# Data and folds
# --------------
# 683 tumours, 239 of them malignant (``y == 1``, the outliers). The labels
# never reach ``fit``; they only grade the candidates. A detector is not a
# classifier, so ``cv=3`` would mean unshuffled folds: a
# :class:`~sklearn.model_selection.StratifiedKFold` puts outliers in every fold.
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from sklearn_ebm import EBMOutlierDetector, outlier_scorer
from sklearn_ebm.datasets import load_breastw

X, y = load_breastw(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

# %%
# One search, three scorers
# -------------------------
# A small grid over the network's size and the energy regularization, with
# few epochs to keep the example fast (hence the ConvergenceWarnings, silenced
# here: the fits stop while the validation score still improves). The
# search scores every candidate with ``outlier_scorer()`` (ROC-AUC, 1 = outlier),
# ``outlier_scorer("average_precision")`` and, for comparison, scikit-learn's
# ``"roc_auc"``; it refits the candidate that ``outlier_scorer()`` ranks first.
scoring = {
    "roc_auc": outlier_scorer(),
    "average_precision": outlier_scorer("average_precision"),
    "sklearn_roc_auc": "roc_auc",  # the pitfall, for comparison only
}
search = GridSearchCV(
    EBMOutlierDetector(max_iter=10, random_state=0),
    {"hidden_sizes": [(8,), (64, 64)], "reg_alpha": [0.01, 1.0]},
    scoring=scoring,
    refit="roc_auc",
    cv=cv,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
table = pd.DataFrame(
    {
        "hidden_sizes": results["param_hidden_sizes"].astype(str),
        "reg_alpha": results["param_reg_alpha"],
        "ROC-AUC": results["mean_test_roc_auc"],
        "+-": results["std_test_roc_auc"],
        "avg precision": results["mean_test_average_precision"],
        'scoring="roc_auc"': results["mean_test_sklearn_roc_auc"],
    }
)
print("Candidates (mean over 3 folds; +- is the standard deviation over the folds)")
print(table.round(3).to_string(index=False))

# %%
# What each scorer picks
# ----------------------
# ``scoring="roc_auc"`` gives exactly one minus the ROC-AUC, so the search
# that maximizes it picks the candidate with the *lowest* ROC-AUC. Here the
# candidates differ by less than the spread over the folds: on this data the
# Gaussian base of the model already ranks most tumours well, and a tie like
# this one is better broken by cost (the small network fits faster).
worst_pick = int(np.argmax(results["mean_test_sklearn_roc_auc"]))
print(f"\noutlier_scorer() picks          {search.best_params_}")
print(f'scoring="roc_auc" would pick    {results["params"][worst_pick]}')
print(f"  (its reported score {results['mean_test_sklearn_roc_auc'][worst_pick]:.3f} is "
      f"1 - ROC-AUC {results['mean_test_roc_auc'][worst_pick]:.3f})")

# %%
# The chosen detector on held-out rows
# ------------------------------------
# ``search.score`` uses the refit scorer, ``outlier_scorer()``.
print(f"\nHeld-out ROC-AUC of the chosen detector: {search.score(X_test, y_test):.3f}")
held_out_ap = outlier_scorer("average_precision")(search.best_estimator_, X_test, y_test)
print(f"Held-out average precision:              {held_out_ap:.3f} (share of outliers: {y_test.mean():.3f})")

# %%
# The two views of the same candidates: ``outlier_scorer()`` on the left,
# scikit-learn's ``"roc_auc"`` on the right, each with the candidate its
# search would pick in dark.
labels = [f"{h}, reg_alpha={a}" for h, a in zip(table["hidden_sizes"], table["reg_alpha"])]
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
for ax, column, title in [
    (axes[0], "mean_test_roc_auc", "outlier_scorer()"),
    (axes[1], "mean_test_sklearn_roc_auc", 'scoring="roc_auc"'),
]:
    values = results[column].to_numpy()
    colors = ["tab:blue" if i == np.argmax(values) else "lightsteelblue" for i in range(len(values))]
    ax.barh(labels, values, color=colors)
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.set_xlabel("mean cross-validated ROC-AUC as reported")
fig.tight_layout()
plt.show()
