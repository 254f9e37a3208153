"""
Outlier detection on real data, and why a row is unusual
========================================================

Fit :class:`sklearn_ebm.EBMOutlierDetector` on the Wisconsin breast cancer
data (shipped with the package, see :func:`sklearn_ebm.datasets.load_breastw`),
with the malignant tumours as the outliers to find. Labels never reach
``fit``: they only grade the scores. The example prints ROC-AUC and average
precision next to IsolationForest's from the same run, then the features that
contribute most to the energy of the rows the detector finds most unusual.

Run it with ``python docs/examples/outlier_detection_breastw.py``.
"""

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

# The five most unusual test rows and the features behind their energy.
order = np.argsort(detector.score_samples(X_test))[:5]
contributions = detector.feature_contributions(X_test.iloc[order])
print("\nMost unusual test rows: energy above the training mean, and its top features")
for (row, values), energy in zip(contributions.iterrows(), contributions.sum(axis=1)):
    top = values.sort_values(ascending=False)[:3]
    label = "malignant" if y_test.loc[row] else "benign"
    features = ", ".join(f"{name}={X_test.loc[row, name]:.0f} ({share:+.1f})" for name, share in top.items())
    print(f"  row {row:3d} ({label}): {energy:6.1f} = {features}, ...")
