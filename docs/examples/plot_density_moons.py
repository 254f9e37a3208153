"""
Density estimation: energy landscape, samples and likelihood
============================================================

Fit :class:`sklearn_ebm.EnergyBasedModel` with its default parameters on two
noisy half-moons, draw the learned energy with the model's own samples on
top (:class:`sklearn_ebm.EnergyLandscapeDisplay`), follow training
(:class:`sklearn_ebm.TrainingCurveDisplay`), and compare the held-out
log-likelihood that :meth:`~sklearn_ebm.EnergyBasedModel.score` returns with
a Gaussian mixture's and a kernel density estimate's, measured in the same
run.

Run it with ``python docs/examples/plot_density_moons.py``.
"""

# %%
# Data and fit
# ------------
# 1,000 points to train on, 1,000 held out. The estimator whitens its input
# itself, so the data needs no scaling, and early stopping on held-out
# denoising score matching decides the number of epochs.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity

from sklearn_ebm import EnergyBasedModel, EnergyLandscapeDisplay, TrainingCurveDisplay

X, _ = make_moons(n_samples=2000, noise=0.1, random_state=0)
X_train, X_test = train_test_split(X, test_size=0.5, random_state=0)

model = EnergyBasedModel(random_state=0).fit(X_train)
print(f"Trained for {model.n_iter_} epochs on {model.device_}.")

# %%
# The energy landscape and the training curves
# --------------------------------------------
# Low energy (dark) is where the model puts its mass; the red points are
# drawn from the model by Langevin dynamics (:meth:`~sklearn_ebm.EnergyBasedModel.sample`).
# The energy gap is the mean energy of the negative samples minus that of the
# data in each epoch.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
EnergyLandscapeDisplay.from_estimator(model, X_train, n_generated=300, random_state=0, ax=left)
left.set_title("Energy E(x), training data and model samples")
TrainingCurveDisplay.from_estimator(model, ax=right)
right.set_title("Training")
fig.tight_layout()

# %%
# Held-out log-likelihood
# -----------------------
# :meth:`~sklearn_ebm.EnergyBasedModel.score_samples` is ``-E(x)``, a
# log-density up to the constant ``log Z``; ``score`` subtracts an estimate
# of ``log Z`` (annealed importance sampling, see
# :meth:`~sklearn_ebm.EnergyBasedModel.log_partition`), so it is a mean
# log-likelihood in nats, comparable with other density estimators. On 2-D
# data like this, a Gaussian mixture or a kernel density estimate is hard to
# beat (see the benchmark page of the documentation); the energy-based model
# is built for tabular data with more features, where those struggle.
gmm = GaussianMixture(n_components=8, random_state=0).fit(X_train)
kde = GridSearchCV(KernelDensity(), {"bandwidth": np.geomspace(0.03, 0.3, 5)}).fit(X_train)

ebm_score = model.score(X_test)  # estimates log Z on the first call, then caches it
print(f"log Z = {model.log_partition_:.3f} (standard error {model.log_partition_stderr_:.3f})")
print("\nHeld-out mean log-likelihood (nats, higher is better)")
print(f"  {'EnergyBasedModel':<30}{ebm_score:7.3f}")
print(f"  {'GaussianMixture(8)':<30}{gmm.score(X_test):7.3f}")
bandwidth = kde.best_params_["bandwidth"]
print(f"  {f'KernelDensity(h={bandwidth:.3f})':<30}{kde.best_estimator_.score_samples(X_test).mean():7.3f}")

# %%
# Samples in the data's units
# ---------------------------
# Samples come back in the units of the data passed to ``fit``.
samples = model.sample(1000, random_state=0)
print("\n        data mean  sample mean  data std  sample std")
for j in range(2):
    print(
        f"  x{j}  {X_train[:, j].mean():9.3f}  {samples[:, j].mean():11.3f}"
        f"  {X_train[:, j].std():8.3f}  {samples[:, j].std():10.3f}"
    )

plt.show()
