"""FeatureContributionsDisplay: one row's energy split among its features, as bars.

matplotlib is an optional dependency (``pip install sklearn-ebm[plot]``),
imported only when the display draws.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._plotting import _axes

__all__ = ["FeatureContributionsDisplay"]


class FeatureContributionsDisplay:
    """One row's energy split among its features, as a horizontal bar chart.

    The bars are :meth:`~sklearn_ebm.EnergyBasedModel.feature_contributions`
    (or, through a pipeline, :func:`~sklearn_ebm.feature_contributions_from_pipeline`,
    in the pipeline's input columns): they sum to ``E(x) - E(mean)``, the
    row's energy above the training mean. Positive bars (red) make the row
    less typical, negative ones (blue) more typical. The largest
    contributions come first; the others are summed into one bar.

    Create it with :meth:`from_estimator` or :meth:`from_pipeline`.

    Parameters
    ----------
    contributions : ndarray of shape (n_features,)
        The row's contribution per feature.
    feature_names : sequence of str
        The features' names.
    feature_values : sequence, default=None
        The row's values, shown next to the names; None shows names only.
    row_label : str, default=None
        Names the row in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    bars_ : matplotlib BarContainer
        The bars, top to bottom.
    labels_ : list of str
        Their labels, top to bottom.

    See Also
    --------
    sklearn_ebm.feature_contributions_from_pipeline : The contributions in a pipeline's input columns.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_ebm import EBMOutlierDetector, FeatureContributionsDisplay
    >>> X = np.random.RandomState(0).normal(size=(300, 3))
    >>> detector = EBMOutlierDetector(hidden_sizes=(16,), max_iter=3, random_state=0).fit(X)
    >>> display = FeatureContributionsDisplay.from_estimator(detector, [[0.0, 6.0, 0.0]])
    >>> display.labels_[0]
    'x1 = 6'
    """

    def __init__(self, *, contributions, feature_names, feature_values=None, row_label=None):
        self.contributions = contributions
        self.feature_names = feature_names
        self.feature_values = feature_values
        self.row_label = row_label

    def plot(self, ax=None, *, max_features=10):
        """Draw the bars on ``ax`` (a new figure when None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        max_features : int, default=10
            Bars for the features with the largest absolute contributions;
            the remaining features are summed into one more bar.

        Returns
        -------
        self : FeatureContributionsDisplay
        """
        if isinstance(max_features, bool) or not isinstance(max_features, (int, np.integer)) or max_features < 1:
            raise ValueError(f"max_features must be a positive int, for example 10; got {max_features!r}.")
        contributions = np.asarray(self.contributions, dtype=np.float64).ravel()
        names = [str(name) for name in self.feature_names]
        if len(names) != len(contributions):
            raise ValueError(f"{len(names)} feature_names for {len(contributions)} contributions.")
        if self.feature_values is not None:
            names = [f"{name} = {_format_value(value)}" for name, value in zip(names, self.feature_values)]
        order = np.argsort(-np.abs(contributions), kind="stable")
        shown, rest = order[:max_features], order[max_features:]
        labels = [names[j] for j in shown]
        values = list(contributions[shown])
        if len(rest):
            labels.append(f"{len(rest)} other feature{'s' if len(rest) > 1 else ''}")
            values.append(float(contributions[rest].sum()))
        ax = _axes(ax)
        positions = np.arange(len(values))[::-1]  # the first label at the top
        colors = ["tab:red" if v > 0 else "tab:blue" for v in values]
        self.bars_ = ax.barh(positions, values, color=colors)
        ax.set_yticks(positions, labels)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel("contribution to E(x) - E(mean)  (positive = less typical)")
        title = f"E(x) - E(mean) = {contributions.sum():.3g}"
        ax.set_title(f"{self.row_label}: {title}" if self.row_label is not None else title)
        self.labels_ = labels
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, *, row=0, n_steps=32, ax=None, **plot_kwargs):
        """Compute and plot the contributions of one row of ``X``.

        Parameters
        ----------
        estimator : EnergyBasedModel or EBMOutlierDetector
            Fitted.
        X : array-like or DataFrame of shape (n_samples, n_features)
            The rows; only ``row`` is computed.
        row : int, default=0
            The row's position in ``X`` (as ``X.iloc[row]``; negative counts from the end).
        n_steps : int, default=32
            Quadrature points of :meth:`~sklearn_ebm.EnergyBasedModel.feature_contributions`.
        ax : matplotlib Axes, default=None
        **plot_kwargs
            Passed to :meth:`plot` (``max_features``).

        Returns
        -------
        FeatureContributionsDisplay
        """
        check_is_fitted(estimator)
        one, values, label = _one_row(X, row)
        contributions = np.asarray(estimator.feature_contributions(one, n_steps=n_steps), dtype=np.float64)[0]
        if hasattr(estimator, "feature_names_in_"):
            names = [str(name) for name in estimator.feature_names_in_]
        elif hasattr(one, "columns"):
            names = [str(name) for name in one.columns]
        else:
            names = [f"x{j}" for j in range(len(contributions))]
        display = cls(contributions=contributions, feature_names=names, feature_values=values, row_label=label)
        return display.plot(ax=ax, **plot_kwargs)

    @classmethod
    def from_pipeline(cls, pipeline, X, *, row=0, n_steps=32, ax=None, **plot_kwargs):
        """Plot one row's contributions in the columns of a pipeline's input.

        The contributions are :func:`~sklearn_ebm.feature_contributions_from_pipeline`'s:
        a categorical column behind a ``OneHotEncoder`` gets one bar, the sum
        of its indicators'.

        Parameters
        ----------
        pipeline : sklearn.pipeline.Pipeline
            Fitted, ending in an :class:`~sklearn_ebm.EnergyBasedModel` or
            :class:`~sklearn_ebm.EBMOutlierDetector`.
        X : array-like or DataFrame of shape (n_samples, n_columns)
            The rows, as the pipeline takes them; only ``row`` is computed.
        row : int, default=0
            The row's position in ``X`` (as ``X.iloc[row]``; negative counts from the end).
        n_steps : int, default=32
            Quadrature points along the integration path.
        ax : matplotlib Axes, default=None
        **plot_kwargs
            Passed to :meth:`plot` (``max_features``).

        Returns
        -------
        FeatureContributionsDisplay
        """
        from ._pipeline import feature_contributions_from_pipeline

        one, values, label = _one_row(X, row)
        contributions = feature_contributions_from_pipeline(pipeline, one, n_steps=n_steps)
        display = cls(
            contributions=contributions.to_numpy()[0],
            feature_names=[str(name) for name in contributions.columns],
            feature_values=values,
            row_label=label,
        )
        return display.plot(ax=ax, **plot_kwargs)


def _one_row(X, row):
    """``X``'s row at position ``row`` as a one-row table, its values and a label."""
    n_rows = len(X)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not -n_rows <= row < n_rows:
        raise ValueError(
            f"row must be the position of a row of X, an int in [{-n_rows}, {n_rows}); got {row!r}. "
            "For a DataFrame index label, pass X.index.get_loc(label)."
        )
    row = int(row) % n_rows
    if hasattr(X, "iloc"):
        one = X.iloc[[row]]
        return one, list(one.iloc[0]), f"row {X.index[row]}"
    one = np.asarray(X)[[row]]
    return one, list(one[0]), f"row {row}"


def _format_value(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value)
    return f"{value:.4g}"
