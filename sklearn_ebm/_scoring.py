"""Scoring outlier detectors against labels in which one value marks the outliers."""

from numbers import Integral, Real

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = ["outlier_scorer"]

_METRICS = {"roc_auc": roc_auc_score, "average_precision": average_precision_score}


def outlier_scorer(metric="roc_auc", outlier_label=1):
    """A scorer that grades an outlier detector's ranking against outlier labels.

    The scorer calls the estimator's ``score_samples`` (higher = more
    normal), takes ``-score_samples`` as the outlier score and grades it with
    ``metric`` against ``y == outlier_label``. Higher is better, as
    :class:`~sklearn.model_selection.GridSearchCV` and
    :func:`~sklearn.model_selection.cross_val_score` expect, and the value
    is the same whichever label marks the outliers. Labels only reach the
    scorer: the detectors ignore ``y`` in ``fit``.

    Parameters
    ----------
    metric : {"roc_auc", "average_precision"}, default="roc_auc"
        :func:`~sklearn.metrics.roc_auc_score` (0.5 for a random ranking) or
        :func:`~sklearn.metrics.average_precision_score` (the share of
        outliers for a random ranking), with the outliers as the positive
        class.
    outlier_label : int, float, str or bool, default=1
        The value of ``y`` that marks an outlier; every other value is an
        inlier. 1 is the convention of ADBench, PyOD and most labelled
        outlier datasets (including :func:`sklearn_ebm.datasets.load_breastw`);
        pass ``outlier_label=-1`` for labels in the convention of
        ``predict`` (+1 inlier, -1 outlier).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns a float. Use it as ``scoring=``
        of ``GridSearchCV``, ``cross_val_score`` or ``cross_validate``
        (also as a value of a dict of scorers).

    Raises
    ------
    ValueError
        From the factory, for an unknown ``metric`` or a non-scalar
        ``outlier_label``. From the scorer, when ``y`` is missing, holds no
        row labelled ``outlier_label``, holds only outliers, or holds more
        than two distinct labels: the message says which and how to fix it
        (for example a ``StratifiedKFold`` so that every fold holds both).
    TypeError
        From the scorer, when the estimator has no ``score_samples``.

    See Also
    --------
    sklearn.metrics.roc_auc_score : The metric of ``metric="roc_auc"``.
    sklearn.metrics.average_precision_score : The metric of ``metric="average_precision"``.
    sklearn_ebm.EBMOutlierDetector.score_samples : The scores it grades.

    Notes
    -----
    scikit-learn's own ``scoring="roc_auc"`` takes the larger label as the
    positive class and grades ``decision_function``, which is higher for
    *inliers*. With labels where 1 marks the outliers it therefore grades
    the ranking upside down: it reports ``1 - AUC`` (0.19 for a detector
    whose true ROC-AUC is 0.81), and a grid search picks the *worst*
    candidate, with no error or warning. ``scoring="roc_auc"`` is right only
    for labels where the larger value marks the inliers (+1 inlier, -1
    outlier, as ``predict``). ``make_scorer(roc_auc_score)`` grades the
    hard +1 / -1 output of ``predict`` instead of the scores, which is both
    upside down for such labels and coarse. This scorer states the outlier
    label explicitly, so neither mistake can happen. Do not flip the labels
    to make ``scoring="roc_auc"`` work with ``average_precision``: average
    precision, unlike ROC-AUC, is not symmetric in the two classes, and
    this scorer computes it with the outliers as the positive class.

    With a fold that holds no outlier (or only outliers) the metric is
    undefined, and the scorer raises. ``GridSearchCV`` and
    ``cross_val_score`` turn an error of the scorer into a ``nan`` score
    with a warning (``error_score=np.nan``, their default) or raise it
    (``error_score="raise"``). Pass ``cv=StratifiedKFold(...)``: a detector
    is not a classifier, so ``cv=3`` means an unshuffled ``KFold``, whose
    folds can miss the outliers of sorted data.

    Examples
    --------
    >>> from sklearn.model_selection import StratifiedKFold, cross_val_score
    >>> from sklearn_ebm import EBMOutlierDetector, outlier_scorer
    >>> from sklearn_ebm.datasets import load_breastw
    >>> X, y = load_breastw(return_X_y=True)  # y: 1 = malignant, the outliers
    >>> detector = EBMOutlierDetector(hidden_sizes=(16,), max_iter=3, random_state=0)
    >>> cv = StratifiedKFold(3, shuffle=True, random_state=0)
    >>> scores = cross_val_score(detector, X, y, cv=cv, scoring=outlier_scorer())
    >>> bool(scores.mean() > 0.8)
    True
    >>> outlier_scorer("average_precision", outlier_label=-1)
    outlier_scorer(metric='average_precision', outlier_label=-1)
    """
    if not isinstance(metric, str) or metric not in _METRICS:
        raise ValueError(
            f"metric must be one of {sorted(_METRICS)}, got {metric!r}. For another metric of "
            "the outlier score -score_samples, use sklearn.metrics.make_scorer(metric, "
            "response_method='score_samples') on labels where the larger value marks the inliers."
        )
    if not isinstance(outlier_label, (Integral, Real, str, np.bool_)) or (
        isinstance(outlier_label, Real) and not np.isfinite(outlier_label)
    ):
        raise ValueError(
            "outlier_label must be the single value of y that marks an outlier (an int, "
            f"float, str or bool, for example 1 or -1), got {outlier_label!r}."
        )
    return _OutlierScorer(metric, outlier_label)


class _OutlierScorer:
    """``metric(y == outlier_label, -estimator.score_samples(X))``; see :func:`outlier_scorer`."""

    def __init__(self, metric, outlier_label):
        self.metric = metric
        self.outlier_label = outlier_label

    def __repr__(self):
        return f"outlier_scorer(metric={self.metric!r}, outlier_label={self.outlier_label!r})"

    def __call__(self, estimator, X, y=None, **kwargs):
        if kwargs.get("sample_weight") is not None:
            raise TypeError("outlier_scorer does not support sample_weight.")
        if not hasattr(estimator, "score_samples"):
            raise TypeError(
                f"outlier_scorer grades score_samples, which {type(estimator).__name__} does not "
                "have; score an outlier detector (EBMOutlierDetector, or a Pipeline ending in one)."
            )
        is_outlier = self._outlier_mask(y)
        outlier_score = -np.asarray(estimator.score_samples(X), dtype=np.float64)
        if len(outlier_score) != len(is_outlier):
            raise ValueError(
                f"y has {len(is_outlier)} labels but score_samples gave {len(outlier_score)} scores."
            )
        return float(_METRICS[self.metric](is_outlier, outlier_score))

    def _outlier_mask(self, y):
        if y is None:
            raise ValueError(
                "outlier_scorer needs labels: pass y (outlier_label marks the outliers) to "
                "cross_val_score(estimator, X, y, ...) or GridSearchCV(...).fit(X, y)."
            )
        y = np.asarray(y)
        if y.ndim != 1:
            y = y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1:
            raise ValueError(f"outlier_scorer needs one label per row, got y of shape {y.shape}.")
        labels = _distinct(y)
        is_outlier = y == self.outlier_label
        if len(labels) > 2:
            raise ValueError(
                f"outlier_scorer needs two labels (outlier_label={self.outlier_label!r} for the "
                f"outliers, another for the inliers), but y holds {len(labels)}: "
                f"{_shown(labels)}. Map them to two first, for example y == <outlier value>."
            )
        if not is_outlier.any():
            raise ValueError(
                f"No row of y is labelled outlier_label={self.outlier_label!r} (its labels are "
                f"{_shown(labels)}). If the outliers are labelled otherwise, pass "
                "outlier_scorer(outlier_label=...); if this cross-validation fold holds no "
                "outlier, split with StratifiedKFold(n_splits, shuffle=True) so that every fold "
                "holds some."
            )
        if is_outlier.all():
            raise ValueError(
                f"Every row of y is labelled outlier_label={self.outlier_label!r}: a ranking "
                "needs inliers too. If this cross-validation fold holds no inlier, split with "
                "StratifiedKFold(n_splits, shuffle=True); check that outlier_label is the value "
                "of the outliers, not of the inliers."
            )
        return is_outlier


def _distinct(y):
    try:
        return np.unique(y)
    except TypeError:  # mixed types in an object array
        return np.asarray(list(dict.fromkeys(y.tolist())), dtype=object)


def _shown(labels, limit=5):
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in labels[:limit])
    return f"[{shown}{', ...' if len(labels) > limit else ''}]"
