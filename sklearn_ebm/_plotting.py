"""Displays in scikit-learn's style: ``from_estimator`` computes, ``plot`` draws.

This module holds the model's diagnostics, :class:`EnergyLandscapeDisplay`
and :class:`TrainingCurveDisplay`, and the helpers the displays share;
:class:`~sklearn_ebm.FeatureContributionsDisplay` is in
:mod:`sklearn_ebm._plotting_contributions`.

matplotlib is an optional dependency (``pip install sklearn-ebm[plot]``),
imported only when a display draws.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["EnergyLandscapeDisplay", "TrainingCurveDisplay"]


# The colour scale of EnergyLandscapeDisplay runs from the lowest energy to
# this quantile of the energies where the data lies, plus this share of their
# spread: the data's structure gets the colours, the far field the top one.
_LANDSCAPE_QUANTILE = 0.99
_LANDSCAPE_HEADROOM = 0.5


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


class EnergyLandscapeDisplay:
    """Energy contours over two features, with data and model samples on top.

    Create it with :meth:`from_estimator`; the other features are held at
    the training mean. The colour scale follows the energies where the data
    lies: from the lowest energy on the grid to a little above the 99th
    percentile of the energies of the data points (of the model's samples
    without data), so the structure the model learned there is visible;
    higher energies, far from the data, all take the top colour (the
    colour bar's arrow).

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
    energy_range : (float, float), default=None
        The energies at the bottom and the top of the colour scale; higher
        energies take the top colour. None spans the whole grid.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    contour_ : matplotlib QuadContourSet
    colorbar_ : matplotlib Colorbar

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
    >>> low, high = display.energy_range
    >>> bool(low < high < display.energy.max())
    True
    """

    def __init__(self, *, grid_x, grid_y, energy, feature_names, X=None, samples=None, energy_range=None):
        self.grid_x = grid_x
        self.grid_y = grid_y
        self.energy = energy
        self.feature_names = feature_names
        self.X = X
        self.samples = samples
        self.energy_range = energy_range

    def plot(self, ax=None, *, levels=20, cmap="viridis"):
        """Draw the contours, data and samples on ``ax`` (a new figure when None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        levels : int or array-like, default=20
            The number of colour bands between the ends of ``energy_range``,
            or the band edges themselves (which override ``energy_range``).
        cmap : str or matplotlib Colormap, default="viridis"
            Low energies (where the model puts its mass) take its first colours.

        Returns
        -------
        self : EnergyLandscapeDisplay
        """
        ax = _axes(ax)
        if np.ndim(levels) == 0:
            low, high = self.energy_range if self.energy_range is not None else (None, None)
            low = np.min(self.energy) if low is None else low
            high = np.max(self.energy) if high is None else high
            if not high > low:
                high = low + 1.0
            from matplotlib.ticker import MaxNLocator

            # Round band edges, the first at or below low, the last at or above high.
            levels = MaxNLocator(nbins=int(levels)).tick_values(low, high)
        levels = np.asarray(levels, dtype=np.float64)
        above, below = np.max(self.energy) > levels[-1], np.min(self.energy) < levels[0]
        extend = {(False, False): "neither", (True, False): "max", (False, True): "min"}.get((above, below), "both")
        self.contour_ = ax.contourf(
            self.grid_x, self.grid_y, self.energy, levels=levels, cmap=cmap, extend=extend
        )
        self.colorbar_ = ax.figure.colorbar(self.contour_, ax=ax, label="energy E(x)")
        if self.X is not None:
            ax.scatter(self.X[:, 0], self.X[:, 1], s=4, c="white", edgecolors="none", alpha=0.6, label="data")
        if self.samples is not None:
            ax.scatter(self.samples[:, 0], self.samples[:, 1], s=6, c="tab:red", edgecolors="none", label="samples")
        if self.X is not None or self.samples is not None:
            # Grey, so that the white data marker shows.
            ax.legend(loc="upper right", facecolor="0.75", framealpha=0.9)
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
            Data to draw, and to set the plotted range and the colour scale;
            without it the range is the training mean +- 3.5 standard
            deviations and the colour scale follows the model's samples (the
            grid's lower half when ``n_generated=0``).
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
        # The colour scale follows the energies where the data lies, on the
        # same slice as the grid (the other features at the training mean).
        reference = X_shown if X_shown is not None else samples
        if reference is not None:
            on_slice = np.tile(mean, (len(reference), 1))
            on_slice[:, columns] = reference
            reference = estimator._energy(on_slice)
        else:
            reference = energy[energy <= np.median(energy)]
        low = float(min(energy.min(), reference.min()))
        top = float(np.quantile(reference, _LANDSCAPE_QUANTILE))
        high = float(min(top + _LANDSCAPE_HEADROOM * (top - low), energy.max()))
        display = cls(
            grid_x=grid_x,
            grid_y=grid_y,
            energy=energy,
            feature_names=names,
            X=X_shown,
            samples=samples,
            energy_range=(low, high),
        )
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
    """The training loss and energy gap per epoch, and the validation score.

    With early stopping (``early_stopping=True``, the default) the estimator
    scores each epoch on held-out rows (``validation_scores_``: denoising
    score matching, higher is better) and keeps the weights of the
    best-scoring epoch after the warm-up of the weight average. The display
    draws that score on its own axis, on the right, and marks the epoch whose
    weights were kept.

    Parameters
    ----------
    loss : sequence of float
        ``loss_curve_``.
    energy_gap : sequence of float
        ``energy_gap_curve_``: mean ``E(negatives) - E(data)``.
    validation_scores : sequence of float, default=None
        ``validation_scores_``; None (a fit without early stopping, or
        ``partial_fit``) draws no score.
    best_epoch : int, default=None
        The epoch (counted from 1) whose weights the model kept, 0 for the
        weights training started from (with a mixture base, the base itself);
        None marks none.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the loss and the energy gap.
    score_ax_ : matplotlib Axes or None
        The axes of the validation score (sharing ``ax_``'s epochs), or None.
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Artist
        ``"loss"``, ``"energy gap"`` and, with scores, ``"validation score"``
        and ``"kept epoch"`` (the vertical line at ``best_epoch``).

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
    ['energy gap', 'kept epoch', 'loss', 'validation score']
    >>> display.score_ax_.get_ylabel()
    'validation score (higher is better)'
    """

    def __init__(self, *, loss, energy_gap, validation_scores=None, best_epoch=None):
        self.loss = loss
        self.energy_gap = energy_gap
        self.validation_scores = validation_scores
        self.best_epoch = best_epoch

    def plot(self, ax=None):
        """Draw the curves against the epoch on ``ax`` (a new figure when None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw the loss and the energy gap; the validation score
            goes on a twin axis on the right.

        Returns
        -------
        self : TrainingCurveDisplay
        """
        ax = _axes(ax)
        epochs = np.arange(1, len(self.loss) + 1)
        (loss_line,) = ax.plot(epochs, self.loss, label="loss", color="tab:blue")
        (gap_line,) = ax.plot(epochs, self.energy_gap, label="energy gap", color="tab:orange")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss, energy gap")
        self.lines_ = {"loss": loss_line, "energy gap": gap_line}
        self.score_ax_ = None
        handles = [loss_line, gap_line]
        if self.validation_scores is not None and len(self.validation_scores):
            score_ax = ax.twinx()
            scores = np.asarray(self.validation_scores, dtype=np.float64)
            (score_line,) = score_ax.plot(
                np.arange(1, len(scores) + 1), scores, color="tab:green", label="validation score (right)"
            )
            score_ax.set_ylabel("validation score (higher is better)")
            self.lines_["validation score"] = score_line
            handles.append(score_line)
            if self.best_epoch is not None:
                kept = ax.axvline(
                    self.best_epoch,
                    color="black",
                    linestyle="--",
                    linewidth=1,
                    label=f"kept weights (epoch {self.best_epoch})",
                )
                if self.best_epoch > 0:
                    score_ax.plot([self.best_epoch], [scores[self.best_epoch - 1]], "o", color="tab:green")
                self.lines_["kept epoch"] = kept
                handles.append(kept)
            self.score_ax_ = score_ax
        # On the top axes, so that no curve crosses it, in the emptiest corner of both.
        (self.score_ax_ or ax).legend(
            handles=handles,
            labels=[h.get_label() for h in handles],
            loc=_emptiest_corner(ax, self.score_ax_),
            fontsize="small",
            framealpha=0.9,
        )
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the curves of a fitted estimator.

        Parameters
        ----------
        estimator : EnergyBasedModel or EBMOutlierDetector
            Fitted.
        ax : matplotlib Axes, default=None

        Returns
        -------
        TrainingCurveDisplay
        """
        check_is_fitted(estimator)
        scores = getattr(estimator, "validation_scores_", None)
        best = getattr(estimator, "best_validation_score_", None)
        best_epoch = None
        if scores is not None and best is not None:
            # The kept epoch scored best_validation_score_; a continued fit
            # appends its scores, so its epoch is the last one with that score.
            matches = np.flatnonzero(np.asarray(scores, dtype=np.float64) == best)
            best_epoch = int(matches[-1]) + 1 if len(matches) else None
            if best_epoch is None and getattr(estimator, "best_epoch_", None) == 0:
                # The weights training started from (a mixture base itself) were kept.
                best_epoch = 0
        return cls(
            loss=estimator.loss_curve_,
            energy_gap=estimator.energy_gap_curve_,
            validation_scores=scores,
            best_epoch=best_epoch,
        ).plot(ax=ax)


def _emptiest_corner(*axes):
    """The corner of the plot that the fewest points of the axes' lines fall in."""
    corners = {
        "upper right": (0.5, 0.55),
        "upper left": (0.0, 0.55),
        "lower left": (0.0, 0.0),
        "lower right": (0.5, 0.0),
    }
    counts = dict.fromkeys(corners, 0)
    for ax in axes:
        if ax is None:
            continue
        ax.relim()
        ax.autoscale_view()
        to_axes = ax.transData + ax.transAxes.inverted()
        for line in ax.get_lines():
            points = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(np.float64)
            if line.get_transform() != ax.transData or not len(points):
                continue  # axvline: in axes coordinates, and thin
            u, v = to_axes.transform(points).T
            for corner, (x0, y0) in corners.items():
                counts[corner] += int(np.sum((u >= x0) & (u <= x0 + 0.5) & (v >= y0) & (v <= y0 + 0.45)))
    return min(corners, key=lambda corner: counts[corner])  # ties: the first, upper right
