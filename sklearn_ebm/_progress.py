"""Reporting training progress per epoch."""

import sys

__all__ = ["EpochReporter"]


class EpochReporter:
    """Shows each epoch's loss, energy gap and monitor score.

    ``verbose=0`` prints nothing; ``verbose=1`` draws a tqdm progress bar on
    stderr (plain lines when tqdm is not installed), which also renders in
    CI logs and notebooks; ``verbose>=2`` prints one line per epoch on
    stdout.
    """

    def __init__(self, verbose, max_iter):
        self.verbose = verbose
        self.max_iter = max_iter
        self._bar = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.verbose = 2
            else:
                self._bar = tqdm(total=max_iter, desc="EnergyBasedModel", unit="epoch", file=sys.stderr)

    def update(self, epoch, stats, score):
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{stats.loss:.4f}", gap=f"{stats.energy_gap:.3f}", refresh=False)
            self._bar.update(1)
        elif self.verbose:
            print(
                f"Epoch {epoch + 1}/{self.max_iter}: loss {stats.loss:.4f}, "
                f"energy gap {stats.energy_gap:.4f}, monitor score {score:.4f}",
                flush=True,
            )

    def close(self):
        if self._bar is not None:
            self._bar.close()
