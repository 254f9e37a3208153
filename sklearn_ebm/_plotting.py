"""Displays in scikit-learn's style: ``from_estimator`` computes, ``plot`` draws.

matplotlib is an optional dependency (``pip install sklearn-ebm[plot]``),
imported only when a display draws.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["EnergyLandscapeDisplay", "TrainingCurveDisplay"]


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


class EnergyLandscapeDisplay:
    """Energy contours over two features, with data and model samples on top.

    Create it with :meth:`from_estimator`; the other features are held at
    the training mean.

    Parameters
    ----------
    grid_x, grid_y : ndarray of shape (grid_resolution,)
        Grid values of the two features.
    energy : ndarray of shape (grid_resolution, grid_resolution)
        ``E`` (minus ``score_samples``) on the grid; ``energy[i, j]`` is at
        ``(grid_x[j], grid_y[i])``.
    feature_names : tuple of str
        Names of the two features.
    X : ndarray of shape (n_samples, 2), default=None
        Data points to draw.
    samples : ndarray of shape (n_generated, 2), default=None
        Model samples to draw.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    contour_ : matplotlib QuadContourSet

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ebm import EnergyBasedModel, EnergyLandscapeDisplay
    >>> X, _ = make_moons(300, noise=0.05, random_state=0)
    >>> model = EnergyBasedModel(hidden_sizes=(32,), max_iter=5, random_state=0).fit(X)
    >>> display = EnergyLandscapeDisplay.from_estimator(model, X, n_generated=50)
    >>> display.ax_.get_xlabel()
    'x0'
    """

    def __init__(self, *, grid_x, grid_y, energy, feature_names, X=None, samples=None):
        self.grid_x = grid_x
        self.grid_y = grid_y
        self.energy = energy
        self.feature_names = feature_names
        self.X = X
        self.samples = samples

    def plot(self, ax=None, *, levels=20, cmap="viridis"):
        """Draw the contours, data and samples on ``ax`` (a new figure when None).

        Returns
        -------
        self : EnergyLandscapeDisplay
        """
        ax = _axes(ax)
        self.contour_ = ax.contourf(self.grid_x, self.grid_y, self.energy, levels=levels, cmap=cmap)
        ax.figure.colorbar(self.contour_, ax=ax, label="energy E(x)")
        if self.X is not None:
            ax.scatter(self.X[:, 0], self.X[:, 1], s=4, c="white", edgecolors="none", alpha=0.6, label="data")
        if self.samples is not None:
            ax.scatter(self.samples[:, 0], self.samples[:, 1], s=6, c="tab:red", edgecolors="none", label="samples")
        if self.X is not None or self.samples is not None:
            ax.legend(loc="upper right")
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel(self.feature_names[1])
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X=None,
        *,
        features=(0, 1),
        grid_resolution=100,
        n_generated=200,
        random_state=None,
        ax=None,
        **plot_kwargs,
    ):
        """Compute the landscape of a fitted estimator and plot it.

        Parameters
        ----------
        estimator : EnergyBasedModel or EBMOutlierDetector
            Fitted.
        X : array-like of shape (n_samples, n_features), default=None
            Data to draw, and to set the plotted range; without it the range
            is the training mean +- 3.5 standard deviations.
        features : pair of int or str, default=(0, 1)
            The two features, by index or by name (``feature_names_in_``).
        grid_resolution : int, default=100
            Grid points per axis.
        n_generated : int, default=200
            Model samples to draw; 0 draws none.
        random_state : int, RandomState instance or None, default=None
            Seeds the samples.
        ax : matplotlib Axes, default=None
        **plot_kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        EnergyLandscapeDisplay
        """
        check_is_fitted(estimator)
        columns = [_feature_index(estimator, f) for f in features]
        names = tuple(
            str(estimator.feature_names_in_[c]) if hasattr(estimator, "feature_names_in_") else f"x{c}"
            for c in columns
        )
        mean = estimator.whitening_.mean
        X_shown = None if X is None else np.asarray(X, dtype=np.float64)[:, columns]
        if X_shown is not None:
            lo, hi = X_shown.min(axis=0), X_shown.max(axis=0)
            margin = 0.1 * (hi - lo) + 1e-12
            lo, hi = lo - margin, hi + margin
        else:
            std = np.sqrt(np.square(estimator.whitening_.inverse).sum(axis=0))[columns]
            lo, hi = mean[columns] - 3.5 * std, mean[columns] + 3.5 * std
        grid_x = np.linspace(lo[0], hi[0], grid_resolution)
        grid_y = np.linspace(lo[1], hi[1], grid_resolution)
        xx, yy = np.meshgrid(grid_x, grid_y)
        points = np.tile(mean, (xx.size, 1))
        points[:, columns[0]] = xx.ravel()
        points[:, columns[1]] = yy.ravel()
        energy = estimator._energy(points).reshape(xx.shape)
        samples = None
        if n_generated:
            samples = estimator.sample(n_generated, random_state=random_state)[:, columns]
        display = cls(grid_x=grid_x, grid_y=grid_y, energy=energy, feature_names=names, X=X_shown, samples=samples)
        return display.plot(ax=ax, **plot_kwargs)


def _feature_index(estimator, feature):
    if isinstance(feature, str):
        names = list(getattr(estimator, "feature_names_in_", []))
        if feature not in names:
            raise ValueError(f"Unknown feature {feature!r}; the model was fitted on {names}.")
        return names.index(feature)
    index = int(feature)
    if not 0 <= index < estimator.n_features_in_:
        raise ValueError(f"Feature index {feature} is out of range for {estimator.n_features_in_} features.")
    return index


class TrainingCurveDisplay:
    """The training loss and energy gap per epoch.

    Parameters
    ----------
    loss : sequence of float
        ``loss_curve_``.
    energy_gap : sequence of float
        ``energy_gap_curve_``: mean ``E(negatives) - E(data)``.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_ebm import EnergyBasedModel, TrainingCurveDisplay
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> model = EnergyBasedModel(hidden_sizes=(16,), max_iter=3, random_state=0).fit(X)
    >>> display = TrainingCurveDisplay.from_estimator(model)
    >>> sorted(display.lines_)
    ['energy gap', 'loss']
    """

    def __init__(self, *, loss, energy_gap):
        self.loss = loss
        self.energy_gap = energy_gap

    def plot(self, ax=None):
        """Draw both curves against the epoch on ``ax`` (a new figure when None).

        Returns
        -------
        self : TrainingCurveDisplay
        """
        ax = _axes(ax)
        epochs = np.arange(1, len(self.loss) + 1)
        (loss_line,) = ax.plot(epochs, self.loss, label="loss")
        (gap_line,) = ax.plot(epochs, self.energy_gap, label="energy gap")
        ax.set_xlabel("epoch")
        ax.legend()
        self.lines_ = {"loss": loss_line, "energy gap": gap_line}
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the curves of a fitted estimator.

        Returns
        -------
        TrainingCurveDisplay
        """
        check_is_fitted(estimator)
        return cls(loss=estimator.loss_curve_, energy_gap=estimator.energy_gap_curve_).plot(ax=ax)
