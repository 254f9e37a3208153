"""The six 2-D toy densities of the FFJORD ``toy_data.py`` (Grathwohl et al., 2019).

Same shapes, scales and noise levels as there, but every point is an independent draw (random
angles, component and arm choices instead of ``linspace`` grids and fixed halves), so two calls
with one generator give independent train and test sets. ``make_toy(name, n, rng)`` with ``rng``
a ``numpy.random.Generator``; the result is an ``(n, 2)`` float64 array, not standardized.
"""

import numpy as np


def eight_gaussians(n, rng):
    """Eight Gaussians (std 0.5) on a circle of radius 4, all divided by 1.414."""
    angles = np.arange(8) * np.pi / 4
    centers = 4.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    points = centers[rng.integers(0, 8, n)] + 0.5 * rng.standard_normal((n, 2))
    return points / 1.414


def two_moons(n, rng):
    """``make_moons(noise=0.1)`` scaled by 2 and shifted by (-1, -0.2)."""
    t = rng.uniform(0.0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.column_stack([x, y]) + 0.1 * rng.standard_normal((n, 2))
    return 2.0 * points + np.array([-1.0, -0.2])


def rings(n, rng):
    """Four concentric circles of radii 3, 2.25, 1.5, 0.75 with Gaussian noise 0.08."""
    radius = 3.0 * np.array([1.0, 0.75, 0.5, 0.25])[rng.integers(0, 4, n)]
    angle = rng.uniform(0.0, 2 * np.pi, n)
    points = radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    return points + 0.08 * rng.standard_normal((n, 2))


def checkerboard(n, rng):
    """Uniform on the dark squares of a 4 x 4 checkerboard over [-4, 4]^2."""
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - 2 * rng.integers(0, 2, n) + np.floor(x1) % 2
    return 2.0 * np.column_stack([x1, x2])


def pinwheel(n, rng):
    """Five curved arms: radial std 0.3, tangential std 0.1, twist rate 0.25, scaled by 2."""
    arm_angles = np.linspace(0, 2 * np.pi, 5, endpoint=False)
    features = rng.standard_normal((n, 2)) * np.array([0.3, 0.1])
    features[:, 0] += 1.0
    angles = arm_angles[rng.integers(0, 5, n)] + 0.25 * np.exp(features[:, 0])
    cos, sin = np.cos(angles), np.sin(angles)
    x = features[:, 0] * cos + features[:, 1] * sin
    y = -features[:, 0] * sin + features[:, 1] * cos
    return 2.0 * np.column_stack([x, y])


def two_spirals(n, rng):
    """Two interleaved spirals of 540 degrees, divided by 3, with Gaussian noise 0.1."""
    t = np.sqrt(rng.random(n)) * 540 * (2 * np.pi) / 360
    x = -np.cos(t) * t + 0.5 * rng.random(n)
    y = np.sin(t) * t + 0.5 * rng.random(n)
    arm = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    points = arm[:, None] * np.column_stack([x, y]) / 3
    return points + 0.1 * rng.standard_normal((n, 2))


TOYS = {
    "8gaussians": eight_gaussians,
    "moons": two_moons,
    "rings": rings,
    "checkerboard": checkerboard,
    "pinwheel": pinwheel,
    "2spirals": two_spirals,
}


def make_toy(name, n, rng):
    """``n`` independent draws of the toy density ``name`` (one of ``TOYS``)."""
    return TOYS[name](n, rng)


def select_toys(wanted):
    """The toy names matching any of the substrings ``wanted`` (all when empty), in TOYS order."""
    names = [t for t in TOYS if not wanted or any(w.lower() in t for w in wanted)]
    if not names:
        raise SystemExit(f"--datasets {wanted} matches none of {list(TOYS)}")
    return names
