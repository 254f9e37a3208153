"""Loaders of the datasets in ``sklearn_ebm/datasets/data``."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_breastw"]

_BREASTW_FEATURES = [
    "clump_thickness",
    "uniformity_of_cell_size",
    "uniformity_of_cell_shape",
    "marginal_adhesion",
    "single_epithelial_cell_size",
    "bare_nuclei",
    "bland_chromatin",
    "normal_nucleoli",
    "mitoses",
]


def load_breastw(*, return_X_y=False, as_frame=False):
    """The Wisconsin breast cancer (original) data as an outlier detection task.

    683 tumours described by 9 cytological features scored 1 to 10; the 239
    malignant tumours (35%) are the outliers. Source: the file
    ``4_breastw.npz`` of ADBench's "Classical" collection (Han et al.,
    "ADBench: Anomaly Detection Benchmark", NeurIPS 2022), which takes it
    from ODDS and the UCI repository (Wolberg & Mangasarian 1990); rows with
    missing values are removed there.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with named columns and ``y`` as a
        Series.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data`` (ndarray or DataFrame of shape (683, 9)), ``target``
        (1 = malignant, the outliers), ``feature_names`` and ``DESCR``.
    (X, y) : tuple
        Returned instead of the Bunch when ``return_X_y`` is True.

    Examples
    --------
    >>> from sklearn_ebm.datasets import load_breastw
    >>> X, y = load_breastw(return_X_y=True)
    >>> X.shape, int(y.sum())
    ((683, 9), 239)
    """
    with resources.files(__package__).joinpath("data", "breastw.npz").open("rb") as f:
        arrays = np.load(f)
        X, y = arrays["X"].astype(np.float64), arrays["y"].astype(np.int64)
    if as_frame:
        import pandas as pd

        X = pd.DataFrame(X, columns=_BREASTW_FEATURES)
        y = pd.Series(y, name="malignant")
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        feature_names=list(_BREASTW_FEATURES),
        DESCR=load_breastw.__doc__.split("\n\n")[1],
    )
