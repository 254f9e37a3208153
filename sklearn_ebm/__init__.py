"""sklearn-ebm: scikit-learn compatible energy-based models with a PyTorch backend."""

from ._device import resolve_device
from ._base import BaseEnergyModel
from ._estimator import EnergyBasedModel
from ._fourier import FourierFeatures
from ._losses import contrastive_divergence_loss, denoising_score_matching_loss, noise_contrastive_loss
from ._network import (
    ACTIVATIONS,
    EnergyMLP,
    GaussianBaseEnergy,
    build_energy_head,
    build_energy_network,
)
from ._outlier import EBMOutlierDetector
from ._partition import ais_log_partition
from ._pipeline import feature_contributions_from_pipeline, sample_from_pipeline
from ._plotting import EnergyLandscapeDisplay, TrainingCurveDisplay
from ._plotting_contributions import FeatureContributionsDisplay
from ._replay import ReplayBuffer
from ._sampling import energy, langevin_sample
from ._scoring import outlier_scorer

from ._version import __version__

__all__ = [
    "ACTIVATIONS",
    "BaseEnergyModel",
    "EBMOutlierDetector",
    "EnergyBasedModel",
    "EnergyLandscapeDisplay",
    "EnergyMLP",
    "FeatureContributionsDisplay",
    "FourierFeatures",
    "GaussianBaseEnergy",
    "ReplayBuffer",
    "TrainingCurveDisplay",
    "ais_log_partition",
    "build_energy_head",
    "build_energy_network",
    "contrastive_divergence_loss",
    "denoising_score_matching_loss",
    "energy",
    "feature_contributions_from_pipeline",
    "langevin_sample",
    "noise_contrastive_loss",
    "outlier_scorer",
    "resolve_device",
    "sample_from_pipeline",
]
