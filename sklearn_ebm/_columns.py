"""Columns that take few distinct values: detected at fit, dequantized in training.

A column of counts, ratings or binary flags has no density: all its mass
sits on a few values. Fitted as it is, a continuous model puts spikes on
them, which distorts its scores and samples. Training instead adds uniform
noise over one lattice step to such a column (dequantization, Uria et al.
2013; Theis et al. 2016), so the model learns a smooth density whose mass
over each cell is that value's probability, and samples are moved back onto
the column's own values.
"""

import numpy as np

__all__ = ["find_discrete_columns", "lattice_steps", "snap_to_values"]

# A column is discrete when it takes at most this many distinct values on
# train (the dequantization rule of the project's density benchmark) ...
_MAX_DISTINCT = 50
# ... and each value recurs on average at least this often, so that a small
# sample of a continuous column is not mistaken for a lattice.
_MIN_ROWS_PER_VALUE = 4
_PROBE_ROWS = 2048


def find_discrete_columns(X):
    """Indices of the columns of ``X`` that take few, recurring values, and those values.

    Returns
    -------
    columns : ndarray of int
    values : list of ndarray
        The sorted distinct training values of each column in ``columns``.
    """
    columns, values = [], []
    limit = min(_MAX_DISTINCT, X.shape[0] // _MIN_ROWS_PER_VALUE)
    # A column with more than ``limit`` values among a few thousand evenly
    # spaced rows has more among all of them: only the others are sorted in
    # full, so that detection costs little on millions of rows.
    probe = X[:: max(1, X.shape[0] // _PROBE_ROWS)]
    for j in range(X.shape[1]):
        if len(np.unique(probe[:, j])) > limit:
            continue
        distinct = np.unique(X[:, j])
        if 2 <= len(distinct) <= limit:
            columns.append(j)
            values.append(distinct)
    return np.asarray(columns, dtype=np.intp), values


def lattice_steps(values):
    """The smallest gap between the distinct values of each column: its dequantization width."""
    return np.array([np.diff(v).min() for v in values], dtype=np.float64)


def snap_to_values(X, columns, values, bounds=None):
    """Move each listed column of ``X`` (in place) to the nearest of its ``values``.

    With ``bounds = (lo, hi)`` (arrays over all columns), only the values
    inside them are candidates; a column with none inside is left as it is.
    """
    for j, column_values in zip(columns, values):
        if bounds is not None:
            column_values = column_values[(column_values >= bounds[0][j]) & (column_values <= bounds[1][j])]
            if len(column_values) == 0:
                continue
        midpoints = (column_values[1:] + column_values[:-1]) / 2
        X[:, j] = column_values[np.searchsorted(midpoints, X[:, j])]
    return X
