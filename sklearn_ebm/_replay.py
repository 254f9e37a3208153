"""A replay buffer of persistent Langevin chains (Du & Mordatch 2019)."""

import torch

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Persistent negative samples, a fraction restarted from N(0, I) at each draw.

    Each training iteration takes a batch of chains from the buffer,
    restarts each with probability ``reinit_freq`` from a standard normal
    draw, advances them with Langevin dynamics and writes them back. Chains
    thus run for many iterations in total (persistent contrastive divergence,
    Tieleman 2008) while the restarts keep them from losing modes. The
    standard normal is the base of :class:`GaussianBaseEnergy`, so restarted
    chains begin where the untrained model puts its mass.

    Parameters
    ----------
    chains : torch.Tensor of shape (size, d)
        Initial content; the buffer owns it.
    reinit_freq : float
        Probability that a drawn chain restarts from N(0, I).
    init : callable, optional
        ``init(n, generator)`` returns ``n`` fresh starting points, for a
        model whose base is not N(0, I) (restarts then begin at exact draws
        from its base).
    """

    def __init__(self, chains, reinit_freq, init=None):
        self.chains = chains
        self.reinit_freq = reinit_freq
        # init(n, generator) -> n fresh starting points (exact draws from the
        # model's base); None: the standard normal.
        self.init = init

    @classmethod
    def from_normal(cls, size, n_features, reinit_freq, *, generator=None, device=None, dtype=None):
        """A buffer of ``size`` chains drawn from N(0, I)."""
        chains = torch.randn((size, n_features), generator=generator, device=device, dtype=dtype)
        return cls(chains, reinit_freq)

    def draw(self, batch_size, generator=None):
        """Indices and starting points (a copy) of ``batch_size`` random chains."""
        device = self.chains.device
        index = torch.randint(self.chains.shape[0], (batch_size,), generator=generator, device=device)
        start = self.chains[index]
        restart = torch.rand(batch_size, generator=generator, device=device) < self.reinit_freq
        if self.init is not None:
            rows = restart.nonzero().view(-1)
            if len(rows):
                start[rows] = self.init(len(rows), generator).to(start.dtype)
            return index, start
        fresh = torch.randn(start.shape, generator=generator, device=device, dtype=start.dtype)
        return index, torch.where(restart.unsqueeze(1), fresh, start)

    def store(self, index, chains):
        """Write advanced chains back at ``index``; a slot drawn twice keeps its last chain."""
        # An indexed write with repeated indices lands in an unspecified order
        # on CUDA (and on CPU across threads), which made seeded fits on a GPU
        # differ from run to run. Each repeat writes the value of its slot's last
        # draw instead, so the order no longer matters; no host sync.
        positions = torch.arange(len(index), device=index.device)
        last = torch.full((self.chains.shape[0],), -1, dtype=positions.dtype, device=index.device)
        last.scatter_reduce_(0, index, positions, reduce="amax")
        self.chains[index] = chains[last[index]]

    def to(self, device):
        """Move the chains to ``device``; returns self."""
        self.chains = self.chains.to(device)
        return self
