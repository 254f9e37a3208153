"""Reporting training progress per epoch."""

import sys

__all__ = ["EpochReporter"]


class EpochReporter:
    """Shows each epoch's loss, energy gap and validation score.

    - ``verbose=0`` prints nothing.
    - ``verbose=1`` draws a tqdm progress bar on stderr when stderr is a
      terminal (or in a Jupyter notebook, as a widget). Where it is not (a
      file, a pipe, a CI log) or tqdm is not installed, it prints one plain
      line per epoch on stderr instead: a bar there would be written as one
      carriage-return frame per update, and the last one twice.
    - ``verbose>=2`` prints one line per epoch on stdout.

    Parameters
    ----------
    verbose : int
        As the estimators' ``verbose``.
    max_iter : int
        Epochs planned (the bar's total).
    name : str, default="EnergyBasedModel"
        The bar's label.
    score_name : str, default="validation score"
        The score's name in the output: the documented ``validation_scores_``
        with early stopping; pass another name (for example
        ``"training score"``) when the score is computed on training rows.
    """

    def __init__(self, verbose, max_iter, *, name="EnergyBasedModel", score_name="validation score"):
        self.verbose = verbose
        self.max_iter = max_iter
        self.score_name = score_name
        self._bar = None
        self._stream = sys.stdout if verbose >= 2 else sys.stderr
        if verbose == 1 and _draws_a_bar(sys.stderr):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=max_iter, desc=name, unit="epoch", file=sys.stderr)

    def update(self, epoch, stats, score):
        if self._bar is not None:
            self._bar.set_postfix(
                {"loss": f"{stats.loss:.4f}", "gap": f"{stats.energy_gap:.3f}", self.score_name: f"{score:.4f}"},
                refresh=False,
            )
            self._bar.update(1)
        elif self.verbose:
            print(
                f"Epoch {epoch + 1}/{self.max_iter}: loss {stats.loss:.4f}, "
                f"energy gap {stats.energy_gap:.4f}, {self.score_name} {score:.4f}",
                file=self._stream,
                flush=True,
            )

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _draws_a_bar(stream):
    """Whether a tqdm bar renders on ``stream``: tqdm is installed and ``stream``
    is a terminal, or this is a Jupyter kernel (where tqdm draws a widget)."""
    try:
        import tqdm.auto  # noqa: F401  (imports tqdm.autonotebook, which picks the notebook bar)
        import tqdm.autonotebook
        import tqdm.std
    except ImportError:
        return False
    if tqdm.autonotebook.tqdm is not tqdm.std.tqdm:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
