"""The displays render headless (Agg) and draw what they say."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_ebm import (  # noqa: E402
    EBMOutlierDetector,
    EnergyLandscapeDisplay,
    TrainingCurveDisplay,
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


def test_training_curve_draws_loss_and_gap(fitted_model):
    display = TrainingCurveDisplay.from_estimator(fitted_model)
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), fitted_model.loss_curve_)
    np.testing.assert_allclose(display.lines_["energy gap"].get_ydata(), fitted_model.energy_gap_curve_)
    np.testing.assert_array_equal(display.lines_["loss"].get_xdata(), np.arange(1, fitted_model.n_iter_ + 1))
    assert display.ax_.get_xlabel() == "epoch"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["loss", "energy gap"]
