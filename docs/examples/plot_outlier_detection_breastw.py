"""
Outlier detection on real data, and why a row is unusual
========================================================

Fit :class:`sklearn_ebm.EBMOutlierDetector` on the Wisconsin breast cancer
data (shipped with the package, see :func:`sklearn_ebm.datasets.load_breastw`),
with the malignant tumours as the outliers to find. Labels never reach
``fit``: they only grade the scores. The example prints ROC-AUC and average
precision next to IsolationForest's from the same run, then the features that
contribute most to the energy of the rows the detector finds most unusual.

Run it with ``python docs/examples/plot_outlier_detection_breastw.py``.
"""

# %%
# Fit the detector and a baseline
# -------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_ebm import EBMOutlierDetector
from sklearn_ebm.datasets import load_breastw

X, y = load_breastw(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

# A third of these tumours are malignant: say so with ``contamination``, which
# sets the threshold of ``predict`` (ROC-AUC does not depend on it).
detector = EBMOutlierDetector(contamination=0.35, random_state=0).fit(X_train)
forest = IsolationForest(random_state=0).fit(X_train)

# %%
# Rank the test rows
# ------------------
# Both detectors score rows (lower = more unusual); ROC-AUC and average
# precision grade the ranking against the labels.
print(f"{'detector':<20}{'ROC-AUC':>9}{'avg precision':>15}")
for name, model in [("EBMOutlierDetector", detector), ("IsolationForest", forest)]:
    outlier_score = -model.score_samples(X_test)
    print(
        f"{name:<20}{roc_auc_score(y_test, outlier_score):9.3f}"
        f"{average_precision_score(y_test, outlier_score):15.3f}"
    )

flagged = detector.predict(X_test) == -1
print(f"\npredict() flags {flagged.sum()} of {len(X_test)} test rows; "
      f"{y_test[flagged].mean():.0%} of those are malignant.")

# %%
# Why a row is unusual
# --------------------
# The five most unusual test rows and the features behind their energy:
# :meth:`~sklearn_ebm.EBMOutlierDetector.feature_contributions` splits a
# row's energy above the training mean among the features.
order = np.argsort(detector.score_samples(X_test))[:5]
contributions = detector.feature_contributions(X_test.iloc[order])
print("\nMost unusual test rows: energy above the training mean, and its top features")
for (row, values), energy in zip(contributions.iterrows(), contributions.sum(axis=1)):
    top = values.sort_values(ascending=False)[:3]
    label = "malignant" if y_test.loc[row] else "benign"
    features = ", ".join(f"{name}={X_test.loc[row, name]:.0f} ({share:+.1f})" for name, share in top.items())
    print(f"  row {row:3d} ({label}): {energy:6.1f} = {features}, ...")

# %%
# Where the threshold lies
# ------------------------
# The decision function of every test row by its true label: predict() flags
# the rows below zero, the threshold that ``contamination`` set on the training data.
scores = detector.decision_function(X_test)
fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(scores.min(), scores.max(), 40)
ax.hist(scores[y_test.to_numpy() == 0], bins=bins, alpha=0.6, label="benign")
ax.hist(scores[y_test.to_numpy() == 1], bins=bins, alpha=0.6, label="malignant")
ax.axvline(0.0, color="black", linestyle="--", label="threshold (offset_)")
ax.set_xlabel("decision_function (negative = outlier)")
ax.set_ylabel("test rows")
ax.legend()
fig.tight_layout()
plt.show()
