"""The datasets that ship with the package load from the installed files."""

import numpy as np
import pandas as pd

from sklearn_ebm.datasets import load_breastw


def test_load_breastw_bunch():
    data = load_breastw()
    assert data.data.shape == (683, 9)
    assert data.target.shape == (683,)
    assert set(np.unique(data.target)) == {0, 1}
    assert int(data.target.sum()) == 239
    assert len(data.feature_names) == 9
    assert data.data.min() >= 1 and data.data.max() <= 10
    assert "ADBench" in data.DESCR


def test_load_breastw_as_frame():
    X, y = load_breastw(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert list(X.columns)[0] == "clump_thickness"
    np.testing.assert_array_equal(X.to_numpy(), load_breastw().data)
