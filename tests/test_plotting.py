"""The displays render headless (Agg) and draw what they say."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_ebm import (  # noqa: E402
    EBMOutlierDetector,
    EnergyBasedModel,
    EnergyLandscapeDisplay,
    FeatureContributionsDisplay,
    TrainingCurveDisplay,
    feature_contributions_from_pipeline,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_energy_landscape_draws_contours_data_and_samples(fitted_model, X_small):
    display = EnergyLandscapeDisplay.from_estimator(
        fitted_model, X_small, grid_resolution=30, n_generated=40, random_state=0
    )
    assert display.energy.shape == (30, 30)
    # The contours are the model's energies on the grid, other features at the training mean.
    j, i = 7, 11
    point = X_small.mean(axis=0).copy()
    point[0], point[1] = display.grid_x[j], display.grid_y[i]
    assert display.energy[i, j] == pytest.approx(-fitted_model.score_samples(point[None])[0], rel=1e-5)
    collections = display.ax_.collections
    offsets = [c.get_offsets() for c in collections if hasattr(c, "get_offsets") and len(c.get_offsets())]
    assert any(len(o) == len(X_small) for o in offsets)  # the data
    assert any(len(o) == 40 for o in offsets)  # the samples
    assert display.ax_.get_xlabel() == "x0" and display.ax_.get_ylabel() == "x1"
    assert display.figure_ is display.ax_.figure


def test_energy_landscape_by_feature_name_on_a_given_ax(X_small):
    frame = pd.DataFrame(X_small, columns=["a", "b", "c"])
    model = EBMOutlierDetector(hidden_sizes=(8,), max_iter=2, early_stopping=False, random_state=0).fit(frame)
    _, ax = plt.subplots()
    display = EnergyLandscapeDisplay.from_estimator(
        model, features=("c", "a"), grid_resolution=10, n_generated=0, ax=ax
    )
    assert display.ax_ is ax
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("c", "a")
    with pytest.raises(ValueError, match="Unknown feature"):
        EnergyLandscapeDisplay.from_estimator(model, features=("a", "zz"), grid_resolution=5, n_generated=0)


def _data_energies(model, display, X):
    """Energies of X's rows on the display's slice (the other features at the mean)."""
    points = np.tile(model.whitening_.mean, (len(X), 1))
    points[:, :2] = X[:, :2]
    return -model.score_samples(points)


def test_energy_landscape_colours_follow_the_data(fitted_model, X_small):
    display = EnergyLandscapeDisplay.from_estimator(fitted_model, X_small, grid_resolution=40, n_generated=0)
    low, high = display.energy_range
    data = _data_energies(fitted_model, display, X_small)
    assert low == pytest.approx(min(display.energy.min(), data.min()))
    # The top of the scale: a little above the data's 99th percentile, far
    # below the grid's highest energies, which take the top colour.
    assert np.quantile(data, 0.99) < high < display.energy.max()
    levels = display.contour_.levels
    assert levels[0] <= low and levels[-1] >= high
    assert display.contour_.extend in ("max", "both")
    # The data's energies spread over most of the colour bands.
    bands = np.unique(np.digitize(data, levels))
    assert len(bands) >= (len(levels) - 1) // 2
    assert display.colorbar_.ax.get_ylabel() == "energy E(x)"


def test_energy_landscape_colours_without_data(fitted_model, X_small):
    with_samples = EnergyLandscapeDisplay.from_estimator(fitted_model, n_generated=100, random_state=0, grid_resolution=30)
    samples_energy = _data_energies(fitted_model, with_samples, with_samples.samples)
    assert np.quantile(samples_energy, 0.99) < with_samples.energy_range[1]
    bare = EnergyLandscapeDisplay.from_estimator(fitted_model, n_generated=0, grid_resolution=30)
    assert bare.energy_range[1] < bare.energy.max()
    assert bare.energy_range[0] == pytest.approx(bare.energy.min())


def test_energy_landscape_levels_and_range_by_hand(fitted_model, X_small):
    display = EnergyLandscapeDisplay.from_estimator(
        fitted_model, X_small, grid_resolution=20, n_generated=0, levels=[-100.0, 0.0, 100.0]
    )
    np.testing.assert_array_equal(display.contour_.levels, [-100.0, 0.0, 100.0])
    # Without energy_range the scale spans the grid.
    plain = EnergyLandscapeDisplay(
        grid_x=display.grid_x, grid_y=display.grid_y, energy=display.energy, feature_names=("a", "b")
    ).plot(levels=5)
    assert plain.contour_.levels[0] <= display.energy.min() and plain.contour_.levels[-1] >= display.energy.max()
    assert plain.contour_.extend == "neither"


def test_training_curve_draws_loss_and_gap(fitted_model):
    display = TrainingCurveDisplay.from_estimator(fitted_model)
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), fitted_model.loss_curve_)
    np.testing.assert_allclose(display.lines_["energy gap"].get_ydata(), fitted_model.energy_gap_curve_)
    np.testing.assert_array_equal(display.lines_["loss"].get_xdata(), np.arange(1, fitted_model.n_iter_ + 1))
    assert display.ax_.get_xlabel() == "epoch"
    # Without early stopping there are no validation scores to draw.
    assert fitted_model.validation_scores_ is None
    assert display.score_ax_ is None and sorted(display.lines_) == ["energy gap", "loss"]
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["loss", "energy gap"]


def test_training_curve_shows_the_validation_score_and_the_kept_epoch(fast_params, X_small):
    params = {**fast_params, "early_stopping": True, "max_iter": 60, "n_iter_no_change": 3, "ema_decay": 0.0}
    model = EnergyBasedModel(**params).fit(X_small)
    scores = np.asarray(model.validation_scores_)
    display = TrainingCurveDisplay.from_estimator(model)
    # The score on its own axis, sharing the epochs.
    assert display.score_ax_ is not None and display.score_ax_ is not display.ax_
    np.testing.assert_allclose(display.lines_["validation score"].get_ydata(), scores)
    np.testing.assert_array_equal(display.lines_["validation score"].get_xdata(), np.arange(1, len(scores) + 1))
    assert display.score_ax_.get_ylabel() == "validation score (higher is better)"
    # The kept epoch: the one that scored best_validation_score_.
    kept = display.best_epoch
    assert scores[kept - 1] == model.best_validation_score_
    assert scores[kept - 1] >= scores.max() - model.tol  # better by less than tol does not count
    assert display.lines_["kept epoch"].get_xdata()[0] == kept
    legend = display.score_ax_.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["loss", "energy gap", "validation score (right)", f"kept weights (epoch {kept})"]


def test_training_curve_from_lists():
    display = TrainingCurveDisplay(
        loss=[1.0, 0.5, 0.2], energy_gap=[0.3, 0.2, 0.1], validation_scores=[-3.0, -1.0, -2.0], best_epoch=2
    ).plot()
    assert display.lines_["kept epoch"].get_xdata()[0] == 2
    no_mark = TrainingCurveDisplay(loss=[1.0, 0.5], energy_gap=[0.3, 0.2], validation_scores=[-3.0, -1.0]).plot()
    assert "kept epoch" not in no_mark.lines_ and "validation score" in no_mark.lines_


# ------------------------------------------------------ contributions


def _bar_widths(display):
    return [bar.get_width() for bar in display.bars_]


def _bars_top_to_bottom(display):
    bars = sorted(display.bars_, key=lambda bar: -bar.get_y())
    return [bar.get_width() for bar in bars]


def test_contributions_display_from_estimator(X_small):
    frame = pd.DataFrame(X_small, columns=["a", "b", "c"])
    model = EBMOutlierDetector(hidden_sizes=(8,), max_iter=2, early_stopping=False, random_state=0).fit(frame)
    rows = frame.iloc[:5].copy()
    rows.iloc[2, 1] = 40.0
    display = FeatureContributionsDisplay.from_estimator(model, rows, row=2)
    expected = model.feature_contributions(rows.iloc[[2]]).iloc[0]
    order = expected.abs().sort_values(ascending=False).index
    np.testing.assert_allclose(_bars_top_to_bottom(display), expected[order])
    assert display.labels_[0] == "b = 40"
    assert display.labels_ == [f"{name} = {rows.iloc[2][name]:.4g}" for name in order]
    assert display.ax_.get_title() == f"row 2: E(x) - E(mean) = {expected.sum():.3g}"
    colors = [bar.get_facecolor() for bar in sorted(display.bars_, key=lambda bar: -bar.get_y())]
    assert colors[0] == matplotlib.colors.to_rgba("tab:red")  # makes the row less typical
    tick_labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert sorted(tick_labels) == sorted(display.labels_)


def test_contributions_display_sums_the_rest_into_one_bar(fitted_model, X_small):
    display = FeatureContributionsDisplay.from_estimator(fitted_model, X_small, row=-1, max_features=1)
    contributions = fitted_model.feature_contributions(X_small[-1:])[0]
    top = np.argmax(np.abs(contributions))
    widths = _bars_top_to_bottom(display)
    assert widths[0] == pytest.approx(contributions[top])
    assert widths[1] == pytest.approx(contributions.sum() - contributions[top])
    assert display.labels_[1] == "2 other features"
    assert display.labels_[0].startswith(f"x{top} = ")
    assert display.ax_.get_title().startswith(f"row {len(X_small) - 1}: ")


def test_contributions_display_from_pipeline_in_input_columns(fast_params):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {"tenure": rng.uniform(0, 10, 200), "plan": rng.choice(["basic", "pro"], 200), "fee": rng.normal(50, 5, 200)}
    )
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "fee"]), ("cat", OneHotEncoder(sparse_output=False), ["plan"])]
    )
    pipe = make_pipeline(prep, EBMOutlierDetector(**fast_params)).fit(frame)
    rows = frame.iloc[:3].copy()
    rows.loc[1, "tenure"] = 40.0
    display = FeatureContributionsDisplay.from_pipeline(pipe, rows, row=1)
    expected = feature_contributions_from_pipeline(pipe, rows.iloc[[1]]).iloc[0]
    assert len(display.bars_) == 3  # one bar per input column: plan's indicators summed
    assert display.labels_[0] == "tenure = 40"
    assert any(label == f"plan = {rows.loc[1, 'plan']}" for label in display.labels_)
    assert sum(_bar_widths(display)) == pytest.approx(expected.sum())
    assert display.ax_.get_title() == f"row 1: E(x) - E(mean) = {expected.sum():.3g}"


@pytest.mark.parametrize("row", [5, -6, 1.0, "a", True])
def test_contributions_display_rejects_a_bad_row(fitted_model, X_small, row):
    with pytest.raises(ValueError, match=r"row must be the position of a row of X.*\[-5, 5\)"):
        FeatureContributionsDisplay.from_estimator(fitted_model, X_small[:5], row=row)


def test_contributions_display_rejects_a_bad_max_features(fitted_model, X_small):
    with pytest.raises(ValueError, match="max_features must be a positive int"):
        FeatureContributionsDisplay.from_estimator(fitted_model, X_small, max_features=0)
