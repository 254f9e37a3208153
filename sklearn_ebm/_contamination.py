"""Where the inliers end: the threshold rule of the outlier detector.

Shared by the detector's ``offset_`` and by robust training, which leaves the
rows beyond it out of the positive phase.
"""

import numpy as np

__all__ = ["THRESHOLD_ROWS", "score_threshold"]

# contamination="auto": a row is an outlier when its score lies more than this
# many robust standard deviations (1.4826 * MAD) below the median score.
AUTO_ROBUST_Z = 3.0
# Training rows the threshold is computed from, at most (evenly spaced): a
# quantile of 100,000 scores is as good an estimate as one of millions, which
# would cost a forward pass over all of them.
THRESHOLD_ROWS = 100_000


def score_threshold(scores, contamination):
    """The score below which rows are outliers (higher scores are more normal).

    ``contamination`` is the expected share of outliers (that quantile of
    ``scores``), or "auto": the median minus 3 robust standard deviations.
    """
    if contamination == "auto":
        median = np.median(scores)
        spread = 1.4826 * np.median(np.abs(scores - median))
        return float(median - AUTO_ROBUST_Z * spread)
    return float(np.percentile(scores, 100.0 * contamination))
