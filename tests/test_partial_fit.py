"""partial_fit: one epoch per call, state carried over, whitening from the first chunk."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel


@pytest.fixture
def chunks():
    X, _ = make_moons(n_samples=600, noise=0.05, random_state=0)
    return np.array_split(X, 6)


def _weights(model):
    return [p.detach().clone() for p in model.network_.parameters()]


def test_first_call_fits_and_later_calls_continue(make_model, chunks):
    model = make_model(early_stopping=True)
    model.partial_fit(chunks[0])
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 1
    assert model.validation_scores_ is None  # no early stopping in partial_fit
    whitening = model.whitening_
    buffer_before = model._replay_buffer.chains.clone()
    weights_before = _weights(model)
    model.partial_fit(chunks[1])
    assert model.n_iter_ == 2 and len(model.energy_gap_curve_) == 2
    assert model.whitening_ is whitening  # statistics of the first chunk
    assert not torch.equal(model._replay_buffer.chains, buffer_before)  # the buffer carried over and moved
    assert any(not torch.equal(a, b) for a, b in zip(weights_before, _weights(model)))


def test_partial_fit_is_reproducible(make_model, chunks):
    models = [make_model(), make_model()]
    for model in models:
        for chunk in chunks[:3]:
            model.partial_fit(chunk)
    np.testing.assert_array_equal(models[0].score_samples(chunks[5]), models[1].score_samples(chunks[5]))


def test_calls_draw_fresh_randomness(make_model, chunks):
    # Two calls on the same chunk are two different epochs, not a replay.
    model = make_model()
    model.partial_fit(chunks[0])
    model.partial_fit(chunks[0])
    assert model.loss_curve_[0] != model.loss_curve_[1]


def test_bad_chunk_leaves_the_model_intact(make_model, chunks):
    model = make_model()
    model.partial_fit(chunks[0])
    before = model.score_samples(chunks[1])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.hstack([chunks[1], chunks[1]]))
    assert model.n_features_in_ == 2 and model.n_iter_ == 1
    np.testing.assert_array_equal(model.score_samples(chunks[1]), before)


def test_streamed_chunks_learn_as_much_as_fit_on_all_rows(chunks):
    # 15 passes over 6 chunks make as many optimizer steps as 15 epochs of fit
    # on all rows; the held-out log-likelihood (normalized score) rises from
    # the first chunk's model and matches fit's.
    # The plain model (no Fourier features, the Gaussian base), which a
    # stream trains the same way fit does ("auto"'s mixture base in 2-D is
    # fitted to the first chunk alone).
    held_out, _ = make_moons(n_samples=500, noise=0.05, random_state=1)
    params = dict(hidden_sizes=(64, 64), batch_size=50, base="gaussian", fourier_features=0, random_state=0)
    model = EnergyBasedModel(**params)
    model.partial_fit(chunks[0])
    first = model.score(held_out)
    for _ in range(15):
        for chunk in chunks:
            model.partial_fit(chunk)
    full = EnergyBasedModel(**params, max_iter=15, early_stopping=False).fit(np.vstack(chunks))
    assert model.score(held_out) > first + 0.05
    assert model.score(held_out) > full.score(held_out) - 0.1


def test_outlier_detector_partial_fit_then_fit_sets_offset(make_model, chunks):
    detector = EBMOutlierDetector(hidden_sizes=(8,), max_iter=2, early_stopping=False, random_state=0)
    detector.partial_fit(chunks[0])
    assert detector.n_iter_ == 1
    detector.fit(chunks[1])
    assert np.isfinite(detector.offset_)


def test_detector_partial_fit_sets_the_threshold_from_each_chunk(fast_params, chunks):
    detector = EBMOutlierDetector(**fast_params, contamination=0.1)
    detector.partial_fit(chunks[0])
    first = detector.offset_
    assert first == pytest.approx(np.percentile(detector.score_samples(chunks[0]), 10))
    detector.partial_fit(chunks[1])
    assert detector.offset_ == pytest.approx(np.percentile(detector.score_samples(chunks[1]), 10))
    assert detector.offset_ != first
    assert np.mean(detector.predict(chunks[1]) == -1) == pytest.approx(0.1, abs=0.02)
    # A refused chunk changes nothing, the threshold included.
    with pytest.raises(ValueError):
        detector.partial_fit(np.hstack([chunks[2], chunks[2]]))
    assert detector.offset_ == pytest.approx(np.percentile(detector.score_samples(chunks[1]), 10))
