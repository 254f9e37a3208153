"""EnergyBasedModel: the energy-based density estimator."""

import numpy as np
from sklearn.base import DensityMixin

from ._base import BaseEnergyModel

__all__ = ["EnergyBasedModel"]


class EnergyBasedModel(DensityMixin, BaseEnergyModel):
    """Energy-based density model for tabular data, trained by contrastive divergence.

    An MLP energy ``E(x)`` defines the density ``p(x) ~ exp(-E(x))``. Training
    lowers the energy of data and raises it on negative samples drawn by
    Langevin dynamics from the current model (LeCun et al. 2006; Du &
    Mordatch 2019), minimizing
    ``E(x_real) - E(x_neg) + reg_alpha * (E(x_real)**2 + E(x_neg)**2)``.

    How the estimator makes this work on tabular data without tuning:

    - **Whitening.** Inputs are standardized and decorrelated internally
      (Ledoit-Wolf covariance, from at most 100,000 evenly spaced rows), so
      raw and scaled data give the same model.
      Scores, samples and clamp bounds stay in the user's units.
    - **Gaussian base.** The energy is ``f(z) + ||z||**2 / 2`` in whitened
      coordinates ``z``, with ``f`` the MLP (whose output layer starts at
      zero). The untrained model is the Gaussian fitted to the data, and
      ``exp(-E)`` is integrable whatever ``f`` learns, since ``f`` grows at
      most linearly. ``reg_alpha`` penalizes ``f`` only. The first layer's
      initial weights are scaled to the finest scale the data resolve, so
      that fine structure (many rows in few dimensions) is learned in time.
    - **Low-dimensional data.** On data of at most 2 features the network
      reads random Fourier features and corrects a Gaussian mixture instead
      (``fourier_features="auto"``, ``base="auto"``), which resolves fine
      structure that the plain model smooths over.
    - **A mixture base.** On up to 100 features, ``base="auto"`` corrects a
      Gaussian mixture with a defensive share of the Gaussian, chosen on
      held-out rows, where one beats the Gaussian alone; above 2 features
      that correction is learned by noise-contrastive estimation against
      the mixture's draws (``objective="auto"``).
    - **Persistent chains.** Negatives continue chains kept in a replay
      buffer, a fraction ``reinit_freq`` restarting from N(0, I) each draw.
      The Langevin defaults are those of a proper sampler (``noise_scale=1``)
      in whitened units, not the seed's image defaults.
    - **Early stopping** on held-out denoising score matching, which needs
      no partition function; the best weights are restored.

    Methods beyond scikit-learn's density API: :meth:`sample` draws from the
    model, :meth:`feature_contributions` explains a row's energy by feature,
    :meth:`log_partition` estimates ``log Z``, and :meth:`partial_fit` trains
    on a stream of chunks.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 128)
        Widths of the MLP's hidden layers.
    activation : {"silu", "relu", "gelu", "tanh", "elu", "leaky_relu", "softplus"}, default="silu"
        Hidden activation.
    dropout : float in [0, 1), default=0.0
        Dropout after each hidden activation, during training only.
    spectral_norm : bool, default=False
        Spectrally normalize every Linear layer.
    fourier_features : int or "auto", default="auto"
        Random frequencies of the Fourier features the network reads
        (:class:`FourierFeatures`: sines and cosines of fixed random
        projections of the whitened input, then the input itself; Tancik et
        al. 2020). They let the network resolve fine structure in few
        dimensions (rings, spirals, sharp edges) that an MLP on the raw
        coordinates learns slowly; 0 reads the input as it is. "auto": 64 on
        data of at most 2 features, 0 on wider data. A Langevin step then
        costs about 1.8x the plain MLP's.
    fourier_scale : float, default=0.5
        Standard deviation of the features' phases at a typical whitened
        row, in turns: larger resolves finer detail and overfits sooner.
    max_network_inputs : int or None, default=256
        The most whitened coordinates the network reads. On wider data it
        reads those of the ``max_network_inputs`` largest principal
        components, and the Gaussian base alone models the other directions:
        the first layer's product, most of a step's cost on wide data, then
        stops growing with the number of features (a detector fit on 10,000
        rows of 1,500 features: 8.8 s, against 36 s reading all of them).
        None: the network reads every feature.
    reg_alpha : float, default=0.01
        Strength of the L2 penalty on the network's energies.
    base : {"auto", "gaussian", "mixture"}, default="auto"
        The density the network corrects. "gaussian": ``||z||**2 / 2``, the
        Gaussian fitted by the whitening. "mixture": a full-covariance
        Gaussian mixture fitted to the whitened training rows first, with a
        defensive share (0.1%, 1% or 5%) of the whitening's Gaussian, so
        that a held-out row outside its components is never much less
        likely than under that Gaussian. The components (1, 2, 4, ..., 32,
        doubled while doubling helps; 16 at most on 1-2 features) and the
        share, or the whitening's Gaussian alone, are whichever scores best
        on held-out rows: the validation rows from 1,000
        training rows, else 5-fold cross-validation on the training rows.
        The untrained model is that mixture (a residual energy model, Deng
        et al. 2020). Chains start and restart at exact draws from it,
        :meth:`log_partition` anneals from it, and early stopping follows
        the held-out log-likelihood (``log Z`` by importance sampling from
        the base) with the base itself as the first candidate, so the fit
        keeps the mixture unless training improves on it. The fitted
        mixture is ``base_``. "auto": "mixture" on data of at most 100
        features, except that where the whitening's Gaussian wins the
        choice, the model is the "gaussian" one; "gaussian" on wider data.
        With Fourier features, the
        low-dimensional model that "auto" picks for both lowered the held-out
        NLL of every 2-D density of the benchmark on every seed (0.04 to
        0.26 nats, means over 3 seeds); either change alone was worse than
        the plain model on 3 of the 6 (seed 0). See the user guide.
    langevin_steps : int, default=10
        Langevin steps per training iteration.
    step_size : float or "auto", default="auto"
        Langevin step size, in whitened units (the noise of one step has
        standard deviation ``sqrt(step_size) * noise_scale``). "auto" ties it
        to the finest scale the training data resolve: ``(h / 2.5) ** 2`` with
        Scott's factor ``h = n ** (-1 / (d + 4))`` for ``n`` training rows of
        ``d`` features (about 0.1 for 10,000 rows of 32 features, 0.01 for
        5,000 rows of 2). The value used is ``step_size_``.
    noise_scale : float, default=1.0
        Multiplier of the Langevin noise; 1 samples ``exp(-E)``.
    clamp : None, "range" or tuple (lo, hi), default=None
        Keep negative and generated samples inside bounds, in the user's
        units: ``lo`` and ``hi`` are numbers (the same bounds for every
        feature) or arrays of one bound per feature; "range" is each
        feature's training minimum and maximum (``data_min_``, ``data_max_``).
    discrete_columns : "auto", None or array-like, default="auto"
        Columns that take few distinct values (counts, ratings, binary
        flags). Training adds uniform noise over one step of each such
        column's lattice (dequantization), so the model learns a smooth
        density rather than spikes on its values, and :meth:`sample` returns
        the column's own values. "auto" picks the columns with 2 to 50
        distinct training values that recur at least 4 times each on
        average; None treats every column as continuous; otherwise column
        indices or a boolean mask. The columns used are ``discrete_columns_``.
    sampler : {"mala", "langevin"}, default="mala"
        "mala" accepts or rejects each Langevin move (Metropolis-adjusted
        Langevin), so the chains sample ``exp(-E / noise_scale**2)`` exactly
        however sharp the energy becomes; "langevin" takes every move
        (unadjusted, as the seed does), which is biased for large steps and
        lets long runs diverge.
    objective : {"auto", "cd", "nce"}, default="auto"
        What training minimizes. "cd": contrastive divergence, negatives
        drawn by the Langevin sampler from persistent chains, as described
        above. "nce": noise-contrastive estimation (Gutmann & Hyvarinen
        2010) against the base: the network learns to tell the training rows
        from exact draws of the base density, which makes ``-f`` the log
        ratio of the data's density to the base's. It draws no Langevin
        chain, so a training step costs a fraction of contrastive
        divergence's; the sampler's parameters (``langevin_steps``,
        ``step_size``, ``noise_scale``, ``sampler``, ``clamp``) then apply to
        :meth:`sample` only, ``replay_buffer_size`` and ``reinit_freq`` to
        nothing, and ``negative_fraction`` sets the base draws per
        minibatch. It learns what the base lacks only where base draws
        reach, so it suits a base close to the data (see the user guide).
        "auto": "nce" where the model corrects a fitted mixture (``base_``
        is not None) on more than 2 features, whose draws are close to the
        data, else "cd"; the fitted choice is ``objective_``. On the 16 real sets of the density
        benchmark "nce" over the mixture raised the held-out
        log-likelihood on 11 and lowered it on one (seed 0).
    replay_buffer_size : int, default=10000
        Number of persistent chains; 0 starts every iteration's chains afresh.
    reinit_freq : float in [0, 1], default=0.05
        Probability that a chain drawn from the buffer restarts from noise.
    negative_fraction : float in (0, 1], default=1.0
        Persistent chains advanced and used as negatives per minibatch (base
        draws with ``objective="nce"``), as a fraction of its rows. The sampler is most of a fit's cost, so 0.5
        fitted about 2.5x faster with the earlier budget of 100 epochs at
        ``learning_rate=3e-3`` (10,000 x 32 rows: 5.6 s instead of 14.3 s on
        one thread), with the same mean outlier ROC-AUC on the benchmark
        sets (0.862 vs 0.863), but 2-D held-out likelihoods 0.02-0.13 nats
        worse (means over 3 seeds). A speed-for-density trade-off; see the
        user guide.
    max_iter : int, default=100
        Maximum number of epochs. An epoch is a pass over ``max_samples``
        training rows drawn afresh, or over all of them where there are
        fewer (or ``max_samples=None``); the validation score is computed,
        and early stopping decides, after each epoch. A fit that runs out of
        epochs while its validation score still improves warns
        (ConvergenceWarning), as scikit-learn's MLP estimators do. A
        density needs more optimizer steps than a ranking:
        :class:`EBMOutlierDetector` defaults to 30 epochs at
        ``learning_rate=1e-2``, which rank as well in half the time, but
        with those the held-out log-likelihood of the 2-D benchmark
        densities is 0.11 to 0.45 nats worse (see the user guide).
    max_samples : int or None, default=10000
        Training rows per epoch. On data up to this size an epoch is a full
        pass, as scikit-learn's SGD and MLP estimators count; on larger data
        it is a random subsample, drawn afresh each epoch, as
        IsolationForest's ``max_samples`` is per tree. An epoch, and a fit
        of ``max_iter`` epochs, then costs no more as the data grows (at
        most 40 batches of 256 per epoch by default), and early stopping
        checks the model every ``max_samples`` rows rather than once per
        pass. :class:`EBMOutlierDetector` defaults to 2,048: a ranking needs
        fewer steps, and epochs of 2,048 rows cost the 2-D benchmark
        densities up to 0.20 nats of held-out log-likelihood at 100
        epochs. None: every epoch is a full pass.
    batch_size : int or "auto", default="auto"
        Minibatch size, capped at the number of training rows. "auto" is
        ``min(256, max(16, n_train // 10))``: large data trains in batches of
        256, small data still gets about ten updates per epoch.
    learning_rate : float, default=3e-3
        The learning rate of the optimizer, AdamW (Adam with decoupled weight
        decay).
    weight_decay : float >= 0, default=0.1
        AdamW's decoupled weight decay (Loshchilov & Hutter 2019): each step
        shrinks the weights by ``learning_rate * weight_decay``. It keeps long
        runs from drifting (1,000 epochs on a 2-D mixture: held-out NLL 1.46
        nats with it, 2.19 with plain Adam); 0 is plain Adam.
    ema_decay : float in [0, 1), default=0.99
        The fitted network is an exponential moving average of the trained
        weights with this decay per optimizer step (0 keeps the last weights).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the data and stop when its
        denoising score matching score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, restoring the best weights. The kept
        network's output is then scaled by the factor in ``[0, 1]`` with the
        best held-out log-likelihood (``correction_scale_``; 0 is the base
        alone), so the fitted density is not less likely on held-out rows
        than its base.
    validation_fraction : float in (0, 1), default=0.1
        Share of the data held out when ``early_stopping``.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping. With ``ema_decay > 0``
        the first ``1 / (1 - ema_decay)`` optimizer steps are a warm-up of
        the weight average: those epochs neither count nor become the best.
    tol : float, default=1e-4
        Minimum improvement of the validation score.
    device : "auto", str or torch.device, default="auto"
        Where the network runs: "auto" picks CUDA, then MPS, then CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, minibatches and sampling. An int gives reproducible
        results and leaves torch's and numpy's global generators untouched;
        None draws a seed from numpy's global generator.
    verbose : int, default=0
        0 prints nothing; 1 shows a progress bar over epochs with the loss and
        energy gap (tqdm, on stderr; plain lines without tqdm); 2 prints a
        line per epoch.
    warm_start : bool, default=False
        Continue from the fitted network, optimizer, replay buffer and
        whitening on the next ``fit`` instead of starting over. Each continued
        fit draws fresh minibatches and noise (reproducibly for an int
        ``random_state``), so repeated warm-started fits train like one
        longer fit. The network's architecture (``hidden_sizes``,
        ``activation``, ``dropout``, ``spectral_norm``) cannot change between
        continued fits: a change raises ValueError.

    Attributes
    ----------
    network_ : EnergyMLP
        The trained network ``f``, in whitened coordinates.
    device_ : torch.device
        Where the network lives.
    whitening_ : Whitening
        The map from the user's units to whitened coordinates.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X had string column names.
    discrete_columns_ : ndarray of int
        Indices of the columns dequantized in training (see ``discrete_columns``).
    discrete_values_ : list of ndarray
        The sorted distinct training values of each of ``discrete_columns_``.
    data_min_, data_max_ : ndarray of shape (`n_features_in_`,)
        Each feature's minimum and maximum over the training data.
    base_ : MixtureBase or None
        The fitted mixture where the model corrects one (``base="mixture"``,
        or "auto" where a mixture won), else None.
    objective_ : {"cd", "nce"}
        The objective the last fit trained with (``objective`` with "auto"
        resolved).
    best_epoch_ : int or None
        The epoch whose weights the model holds (0: the weights training
        started from, with ``base="mixture"`` the base itself).
    correction_scale_ : float
        The factor the kept network's output was scaled by, chosen from 0,
        0.05, ..., 1 on the held-out rows' log-likelihood (``log Z`` by
        importance sampling from the base): the energy is ``B + t f``. 1.0
        without early stopping, with ``spectral_norm=True`` (a spectrally
        normalized output layer cannot be scaled), for ``partial_fit`` and
        when a fit ends within the weight average's warm-up.
    batch_size_ : int
        The minibatch size training used: the ``batch_size`` parameter, or
        the value "auto" chose, capped at the training rows.
    step_size_ : float
        The Langevin step size training used, and ``sample`` uses: the
        ``step_size`` parameter, or the value "auto" chose.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Mean training loss per epoch.
    energy_gap_curve_ : list of float
        Mean ``E(negative) - E(data)`` per epoch.
    validation_scores_ : list of float or None
        Held-out score per epoch (minus the denoising score matching loss)
        when ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` after the weight average's warm-up
        (the epochs of the first ``1 / (1 - ema_decay)`` optimizer steps are
        not candidates), whose weights the model holds.

    See Also
    --------
    EBMOutlierDetector : The same model as a scikit-learn outlier detector.
    sklearn.neighbors.KernelDensity : Kernel density estimation.
    sklearn.mixture.GaussianMixture : Gaussian mixture density.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ebm import EnergyBasedModel
    >>> X, _ = make_moons(n_samples=500, noise=0.05, random_state=0)
    >>> model = EnergyBasedModel(hidden_sizes=(64, 64), max_iter=20,
    ...                          random_state=0).fit(X)
    >>> model.score_samples(X[:3]).shape
    (3,)
    >>> model.sample(4, random_state=0).shape
    (4, 2)
    """

    def __init__(
        self,
        *,
        hidden_sizes=(256, 128),
        activation="silu",
        dropout=0.0,
        spectral_norm=False,
        fourier_features="auto",
        fourier_scale=0.5,
        max_network_inputs=256,
        reg_alpha=0.01,
        base="auto",
        langevin_steps=10,
        step_size="auto",
        noise_scale=1.0,
        clamp=None,
        discrete_columns="auto",
        sampler="mala",
        objective="auto",
        replay_buffer_size=10000,
        reinit_freq=0.05,
        negative_fraction=1.0,
        max_iter=100,
        max_samples=10000,
        batch_size="auto",
        learning_rate=3e-3,
        weight_decay=0.1,
        ema_decay=0.99,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.spectral_norm = spectral_norm
        self.fourier_features = fourier_features
        self.fourier_scale = fourier_scale
        self.max_network_inputs = max_network_inputs
        self.reg_alpha = reg_alpha
        self.base = base
        self.langevin_steps = langevin_steps
        self.step_size = step_size
        self.noise_scale = noise_scale
        self.clamp = clamp
        self.discrete_columns = discrete_columns
        self.sampler = sampler
        self.objective = objective
        self.replay_buffer_size = replay_buffer_size
        self.reinit_freq = reinit_freq
        self.negative_fraction = negative_fraction
        self.max_iter = max_iter
        self.max_samples = max_samples
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def score(self, X, y=None):
        """Mean normalized log-likelihood of the rows of ``X``.

        ``mean(score_samples(X)) - log_partition_``: unlike
        :meth:`score_samples`, which is ``-E(x)`` up to the constant ``log Z``,
        this is a log-likelihood in nats, in the units of the data passed to
        ``fit``, comparable across models and with other density estimators
        (``GridSearchCV`` without ``scoring`` uses it). ``log Z`` is an
        estimate (annealed importance sampling, see :meth:`log_partition`)
        computed on the first call and cached; its standard error is
        ``log_partition_stderr_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X))) - self._cached_log_partition()
