"""Discrete columns (dequantized in training, sampled on their values) and per-feature clamps."""

import numpy as np
import pytest

import sklearn_ebm._training as training_module
from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel
from sklearn_ebm._columns import find_discrete_columns, lattice_steps, snap_to_values


def mixed_data(n=400, seed=0):
    """Columns: continuous, counts 0..4, binary {-1, 1}, continuous."""
    rng = np.random.RandomState(seed)
    return np.c_[
        rng.randn(n),
        rng.poisson(1.5, n).clip(0, 4),
        rng.choice([-1.0, 1.0], n),
        rng.randn(n) * 3 + 1,
    ]


def test_find_discrete_columns():
    X = mixed_data()
    columns, values = find_discrete_columns(X)
    np.testing.assert_array_equal(columns, [1, 2])
    np.testing.assert_array_equal(values[1], [-1.0, 1.0])
    np.testing.assert_array_equal(lattice_steps(values), [1.0, 2.0])
    # Few rows of a continuous column take few distinct values, but do not recur.
    assert len(find_discrete_columns(np.random.RandomState(0).randn(30, 2))[0]) == 0
    # A constant column has no lattice.
    assert len(find_discrete_columns(np.ones((100, 1)))[0]) == 0


def test_find_discrete_columns_on_many_rows_checks_every_row():
    # 50,000 rows: the detection first looks at a few thousand evenly spaced
    # rows. Column 2 has 8 values there, and 60 further values on rows that
    # sampling skips: it has more than 50 in all, so it is not discrete.
    rng = np.random.default_rng(0)
    n = 50_000
    X = np.column_stack([rng.integers(0, 10, n), rng.normal(size=n), rng.integers(0, 8, n)]).astype(float)
    rare = np.arange(1, 61) * (n // 61) + 1
    X[rare, 2] = 0.5 + np.arange(60)
    columns, values = find_discrete_columns(X)
    np.testing.assert_array_equal(columns, [0])
    np.testing.assert_array_equal(values[0], np.arange(10))
    X[rare, 2] = 3.0
    columns, values = find_discrete_columns(X)
    np.testing.assert_array_equal(columns, [0, 2])
    np.testing.assert_array_equal(values[1], np.arange(8))


def test_snap_to_values_picks_the_nearest_value():
    values = [np.array([0.0, 1.0, 5.0])]
    X = np.array([[-3.0], [0.4], [0.6], [2.9], [3.1], [40.0]])
    snap_to_values(X, np.array([0]), values)
    np.testing.assert_array_equal(X[:, 0], [0.0, 0.0, 1.0, 1.0, 5.0, 5.0])
    # Within bounds only: clamp wins over the nearest value.
    X = np.array([[0.2], [4.0]])
    snap_to_values(X, np.array([0]), values, bounds=(np.array([0.5]), np.array([4.5])))
    np.testing.assert_array_equal(X[:, 0], [1.0, 1.0])


@pytest.mark.parametrize("Est", [EnergyBasedModel, EBMOutlierDetector])
def test_samples_of_discrete_columns_take_their_training_values(make_model, Est):
    X = mixed_data()
    model = Est(**make_model().get_params()).fit(X)
    np.testing.assert_array_equal(model.discrete_columns_, [1, 2])
    samples = model.sample(300, random_state=0)
    assert set(np.unique(samples[:, 1])) <= set(np.unique(X[:, 1]))
    assert set(np.unique(samples[:, 2])) <= {-1.0, 1.0}
    # Continuous columns are left alone.
    assert len(np.unique(samples[:, 0])) > 250


def test_discrete_columns_none_treats_every_column_as_continuous(make_model):
    model = make_model(discrete_columns=None).fit(mixed_data())
    assert len(model.discrete_columns_) == 0
    assert len(np.unique(model.sample(300, random_state=0)[:, 2])) > 250


@pytest.mark.parametrize("spec", [[2], np.array([False, False, True, False])], ids=["indices", "mask"])
def test_discrete_columns_given_explicitly(make_model, spec):
    model = make_model(discrete_columns=spec).fit(mixed_data())
    np.testing.assert_array_equal(model.discrete_columns_, [2])


@pytest.mark.parametrize("spec", [[7], [-1], [0.5], [True, False]], ids=repr)
def test_invalid_discrete_columns_are_named(make_model, spec):
    model = make_model(discrete_columns=spec)
    with pytest.raises(ValueError, match=r"discrete_columns must be 'auto', None, indices of columns in \[0, 4\)"):
        model.fit(mixed_data())
    assert not hasattr(model, "n_features_in_")


def test_training_dequantizes_discrete_columns_with_fresh_noise(make_model, monkeypatch):
    # Each minibatch gets uniform noise over one lattice step of each
    # discrete column, mapped to the whitened coordinates.
    seen = []
    real = training_module.train_epoch

    def spy(*args, dequantization=None, **kwargs):
        seen.append(dequantization)
        return real(*args, dequantization=dequantization, **kwargs)

    monkeypatch.setattr(training_module, "train_epoch", spy)
    model = make_model().fit(mixed_data())
    expected = np.array([1.0, 2.0])[:, None] * model.whitening_.forward[[1, 2]]
    np.testing.assert_allclose(seen[0].cpu().numpy(), expected, rtol=1e-6)
    seen.clear()
    make_model(discrete_columns=None).fit(mixed_data())
    assert seen[0] is None


def test_whitening_sees_the_dequantized_spread(make_model):
    # A binary {-1, 1} column has variance 1; dequantized over [-2, 2]-wide
    # cells it has 1 + 2**2 / 12.
    X = mixed_data(n=4000)
    with_noise = make_model().fit(X).whitening_
    without = make_model(discrete_columns=None).fit(X).whitening_
    spread = lambda w: np.var(w.inverse_transform(np.random.RandomState(0).randn(20000, 4))[:, 2])  # noqa: E731
    assert spread(with_noise) == pytest.approx(1 + 4 / 12, rel=0.05)
    assert spread(without) == pytest.approx(1, rel=0.05)


def test_per_feature_clamp_bounds(make_model):
    X = mixed_data()
    lo, hi = np.array([-0.5, 0.0, -1.0, 0.0]), np.array([0.5, 2.0, 1.0, 1.0])
    samples = make_model(clamp=(lo, hi)).fit(X).sample(200, random_state=0)
    assert np.all(samples >= lo) and np.all(samples <= hi)
    # A number and an array mix.
    samples = make_model(clamp=(0.0, [1.0, 5.0, 2.0, 1.0])).fit(X).sample(200, random_state=0)
    assert samples.min() >= 0.0 and np.all(samples <= [1.0, 5.0, 2.0, 1.0])
    # The binary {-1, 1} column's only value inside [0, 2] is 1.
    np.testing.assert_array_equal(samples[:, 2], 1.0)


def test_clamp_range_keeps_samples_within_the_training_range(make_model):
    X = mixed_data() * [1.0, 1.0, 1.0, 0.01] + [0.0, 0.0, 0.0, 278.0]
    model = make_model(clamp="range").fit(X)
    np.testing.assert_array_equal(model.data_min_, X.min(axis=0))
    np.testing.assert_array_equal(model.data_max_, X.max(axis=0))
    samples = model.sample(300, random_state=0)
    assert np.all(samples >= X.min(axis=0)) and np.all(samples <= X.max(axis=0))


def test_clamp_with_the_wrong_number_of_bounds_is_named(make_model):
    model = make_model(clamp=([0.0, 0.0], [1.0, 1.0]))
    with pytest.raises(ValueError, match="clamp has bounds for 2 features but the data has 4"):
        model.fit(mixed_data())
    assert not hasattr(model, "network_")


def test_partial_fit_widens_the_data_range(make_model):
    X = mixed_data()
    model = make_model().partial_fit(X[:200])
    model.partial_fit(X[200:])
    np.testing.assert_array_equal(model.data_min_, X.min(axis=0))
    np.testing.assert_array_equal(model.data_max_, X.max(axis=0))


@pytest.mark.parametrize("batch_size, expected", [("auto", 36), (1000, 360), (20, 20)])
def test_batch_size_used_is_exposed(make_model, batch_size, expected):
    # 400 rows, 10% held out for validation: 360 training rows.
    model = make_model(batch_size=batch_size, early_stopping=True).fit(mixed_data())
    assert model.batch_size_ == expected
