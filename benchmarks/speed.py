"""Speed of the Langevin sampler, of inference and of a whole fit.

Follows the "Speed" section of ``shared/BENCHMARK.md``: every figure is a ratio against a
reference measured in the same process run, on the same shapes and thread count.

1. Sampler. For d in {8, 32, 128}, hidden sizes (256, 128), batch in {32, 64, 256, 1024},
   spectral normalization off and on, on each thread count: gradient evaluations per second
   (rows x steps / s) of

   a. the bare matrix products one step needs (forward through the three layers and the two
      products of the input gradient, into preallocated outputs: no activation, no autograd);
   b. the textbook loop: ``torch.autograd.grad`` per step on the ``nn.Sequential``
      (``EnergyMLP.layers`` plus the Gaussian base), unadjusted Langevin update;
   c. the project's sampler as the estimator calls it: ``draw_negatives`` on
      ``GaussianBaseEnergy(EnergyMLP(...))`` with ``LangevinSettings(steps, step_size=0.1,
      noise_scale=1.0)``, Metropolis-adjusted (``sampler="mala"``, the default) and
      unadjusted (``sampler="langevin"``); the per-call setup is included.

   and the ratios c/a and c/b. "noise/a" is the time of the step's random draws alone (the
   ``N(0, I)`` noise, and MALA's uniforms) over a: torch's CPU generator draws one number
   at a time, so this part of c is fixed by the sampler's definition, and a/(a + noise) bounds
   c/a. With spectral normalization the benchmark counts the normalizations per chain call
   (must be one per layer: weights are normalized once per call, not per step).
   Timings interleave a, b and c in rounds and keep each one's best round; on 1 CPU thread
   they read the thread's CPU time, which other processes on a shared machine do not
   inflate by preempting it (``--clock wall`` to read wall time instead).
2. Inference: rows/s of ``EnergyBasedModel.score_samples`` on 1e6 rows of d=32 (a model fitted
   with max_iter=1 on 2,000 rows) next to ``IsolationForest.score_samples`` (fitted on the same
   2,000 rows), on each thread count.
3. Fit: seconds of a default ``EnergyBasedModel`` fit on 10,000 x 32 standardized rows
   (``outliers.synthetic_data``), 1 thread, next to PyOD's ``AutoEncoder`` and ``DeepSVDD``
   with their defaults when PyOD is installed, and to a plain PyTorch autoencoder of the
   EBM's width (d-256-128-256-d, Adam, batch 256) trained for as many epochs as the EBM ran.
4. Profile (``--profile``, instead of the tables above): where a step of c goes, next to a.
   For each d and batch, on 1 CPU thread, spectral normalization off, ``torch.profiler``
   profiles ``--profile-calls`` chain calls of c (MALA and unadjusted) and as many steps of a
   (best of 3 profiles by wall time). Each aten op called from Python counts with the ops it
   calls, per step, in a category: matmul, activation (sigmoid and the in-place mul_/lerp_ of
   SiLU and its derivative), random draws (normal_, uniform_ and its log_), bookkeeping (the
   acceptance test, the rejected rows, the energy's ||x||^2 term), other (the Langevin
   update's add); "per-call" is the ops outside the repeated step (buffers, weight folding,
   MALA's first gradient, copies in and out) over the steps; "outside ops" is the profiled
   wall time minus the ops' self CPU time (Python, and dispatch between ops). The profiler
   adds a few microseconds per op, so the step time without it is given too.

Run from the repository root::

    python benchmarks/speed.py                    # everything (about 10 minutes)
    python benchmarks/speed.py --quick            # a small subset (about a minute)
    python benchmarks/speed.py --threads 1 --spectral-norm off --no-fit --no-inference
    python benchmarks/speed.py --device cuda      # the same code on a GPU (skipped if none)
    python benchmarks/speed.py --profile --dims 32 --batches 32,256   # where c's time goes

Tables go to stdout, progress to stderr; ``--json PATH`` writes all raw figures.
"""

import argparse
import itertools
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt, limit_threads, log, print_table, split_list, write_json  # noqa: E402

from sklearn_ebm._network import EnergyMLP, GaussianBaseEnergy  # noqa: E402
from sklearn_ebm._sampling import LangevinSettings, draw_negatives  # noqa: E402

HIDDEN = (256, 128)
STEP_SIZE = 0.1


# ------------------------------------------------------------------ timing


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def best_seconds_per_call(fn, min_time, clock):
    """Seconds per call of ``fn``: calls repeated for at least ``min_time`` seconds."""
    calls, start = 0, clock()
    while True:
        fn()
        calls += 1
        elapsed = clock() - start
        if elapsed >= min_time:
            return elapsed / calls


def interleaved(candidates, rounds, min_time, sync, clock):
    """Best seconds per call of each candidate over ``rounds`` interleaved rounds."""
    best = {name: math.inf for name in candidates}
    for fn in candidates.values():
        fn()  # warm up
    sync()
    for _ in range(rounds):
        for name, fn in candidates.items():
            def timed():
                fn()
                sync()

            best[name] = min(best[name], best_seconds_per_call(timed, min_time, clock))
    return best


def clock_for(args, threads):
    """The calling thread's CPU time on 1 CPU thread (robust to a shared machine's
    preemption), else wall time; ``--clock`` overrides."""
    if args.clock != "auto":
        return args.clock
    return "cpu" if threads == 1 and args.device == "cpu" else "wall"


# ------------------------------------------------------------------ the sampler


def make_model(dim, spectral_norm, device, seed=0):
    """``GaussianBaseEnergy(EnergyMLP(dim, (256, 128)))`` with PyTorch's default init."""
    torch.manual_seed(seed)
    network = EnergyMLP(dim, hidden_sizes=HIDDEN, spectral_norm=spectral_norm).to(device)
    if spectral_norm:
        network.train()
        with torch.no_grad():
            for _ in range(3):  # power iterations, as training would have run
                network(torch.zeros(1, dim, device=device))
    return GaussianBaseEnergy(network).eval()


def bare_products(model, batch, device):
    """One step's matrix products, into preallocated outputs: the reference (a)."""
    with torch.no_grad():
        (w1, b1), (w2, b2), (w3, b3) = [
            (w.clone(), b.clone()) for w, b in model.network.weights()
        ]
    dim = w1.shape[1]
    x = torch.randn(batch, dim, device=device)
    h1 = torch.empty(batch, w1.shape[0], device=device)
    h2 = torch.empty(batch, w2.shape[0], device=device)
    energies = torch.empty(batch, 1, device=device)
    g2 = torch.randn(batch, w2.shape[0], device=device)
    g1 = torch.empty(batch, w1.shape[0], device=device)
    grad = torch.empty(batch, dim, device=device)
    w1t, w2t, w3t = w1.t(), w2.t(), w3.t()

    def step():
        torch.addmm(b1, x, w1t, out=h1)
        torch.addmm(b2, h1, w2t, out=h2)
        torch.addmm(b3, h2, w3t, out=energies)
        torch.mm(g2, w2, out=g1)
        torch.mm(g1, w1, out=grad)

    return step


def textbook_chain(model, start, steps, generator):
    """The textbook loop (b): autograd per step on the ``nn.Sequential``, unadjusted Langevin."""
    layers = model.network.layers
    drift, noise_std = -0.5 * STEP_SIZE, math.sqrt(STEP_SIZE)

    @torch.enable_grad()
    def run():
        x = start.clone()
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            energy = layers(x).sum() + 0.5 * (x * x).sum()
            (grad,) = torch.autograd.grad(energy, x)
            noise = torch.randn(x.shape, generator=generator, device=x.device)
            x = x + drift * grad + noise_std * noise
        return x.detach()

    return run


def project_chain(model, start, steps, metropolis, generator):
    """The project's sampler as the estimator calls it (c)."""
    settings = LangevinSettings(steps, step_size=STEP_SIZE, noise_scale=1.0, metropolis=metropolis)
    chains = start.clone()

    def run():
        chains.copy_(start)
        return draw_negatives(model, chains, settings, generator)

    return run


def noise_draws(start, metropolis, generator):
    """One step's random draws alone: the noise, and MALA's uniforms."""
    noise = torch.empty_like(start)
    uniform = start.new_empty(start.shape[0])

    def step():
        noise.normal_(generator=generator)
        if metropolis:
            uniform.uniform_(generator=generator)

    return step


def normalizations_per_call(model, steps):
    """Spectral normalizations per layer during one chain call (1 expected)."""
    calls = []
    layers = model.network.linear_layers()
    handles = [
        layer.parametrizations.weight[0].register_forward_hook(lambda *args: calls.append(1))
        for layer in layers
    ]
    try:
        device = layers[0].parametrizations.weight.original.device
        start = torch.randn(8, layers[0].in_features, device=device)
        for metropolis in (True, False):
            settings = LangevinSettings(steps, STEP_SIZE, 1.0, metropolis=metropolis)
            draw_negatives(model, start.clone(), settings)
    finally:
        for handle in handles:
            handle.remove()
    return len(calls) / (2 * len(layers))


def sampler_config(dim, batch, spectral_norm, args, sync, clock):
    device = args.device
    model = make_model(dim, spectral_norm, device)
    generator = torch.Generator(device=device).manual_seed(0)
    start = torch.randn(batch, dim, device=device, generator=generator)
    steps = args.steps
    candidates = {
        "a": bare_products(model, batch, device),
        "b": textbook_chain(model, start, steps, generator),
        "c_mala": project_chain(model, start, steps, True, generator),
        "c_ula": project_chain(model, start, steps, False, generator),
        "noise_mala": noise_draws(start, True, generator),
        "noise_ula": noise_draws(start, False, generator),
    }
    with torch.no_grad():
        seconds = interleaved(candidates, args.rounds, args.min_time, sync, CLOCKS[clock])
    per_step = {name: s / (steps if name in ("b", "c_mala", "c_ula") else 1) for name, s in seconds.items()}
    record = {
        "d": dim, "batch": batch, "spectral_norm": spectral_norm, "steps": steps, "clock": clock,
        "evals_per_s": {name: batch / per_step[name] for name in ("a", "b", "c_mala", "c_ula")},
        "step_seconds": per_step,
    }
    a = per_step["a"]
    for kind in ("mala", "ula"):
        c = per_step[f"c_{kind}"]
        record[f"c_{kind}/a"] = a / c
        record[f"c_{kind}/b"] = per_step["b"] / c
        record[f"noise_{kind}/a"] = per_step[f"noise_{kind}"] / a
        record[f"bound_{kind}"] = a / (a + per_step[f"noise_{kind}"])
    if spectral_norm:
        record["normalizations_per_call"] = normalizations_per_call(model, steps)
    return record


def run_sampler(args, threads, sync):
    records = []
    for spectral_norm in args.spectral_norm:
        for dim in args.dims:
            for batch in args.batches:
                record = sampler_config(dim, batch, spectral_norm, args, sync, clock_for(args, threads))
                record["threads"] = threads
                records.append(record)
                log(f"sampler threads={threads} sn={spectral_norm} d={dim} batch={batch}: "
                    f"c_mala/a {record['c_mala/a']:.2f}, c_ula/a {record['c_ula/a']:.2f}, "
                    f"c_mala/b {record['c_mala/b']:.2f}")
    return records


def goal(batch):
    return 0.8 if batch >= 256 else 0.6 if batch <= 32 else None


def print_sampler(records, device):
    by_config = {}
    for r in records:
        by_config.setdefault((r["threads"], r["spectral_norm"]), []).append(r)
    for (threads, spectral_norm), rows in by_config.items():
        table = []
        for r in rows:
            e = r["evals_per_s"]
            target = goal(r["batch"])
            met = "" if target is None else (
                "yes" if min(r["c_mala/a"], r["c_ula/a"]) >= target else "no"
            )
            table.append([
                f"d={r['d']} batch={r['batch']}",
                f"{e['a'] / 1e3:.0f}k", f"{e['b'] / 1e3:.0f}k",
                f"{e['c_mala'] / 1e3:.0f}k", f"{e['c_ula'] / 1e3:.0f}k",
                fmt(r["c_mala/a"], 2), fmt(r["c_ula/a"], 2),
                fmt(r["c_mala/b"], 2), fmt(r["c_ula/b"], 2),
                fmt(r["noise_mala/a"], 2), fmt(r["bound_mala"], 2),
                "" if target is None else f">= {target}: {met}",
            ])
        sn = "on" if spectral_norm else "off"
        extra = ""
        if spectral_norm:
            counts = sorted({r["normalizations_per_call"] for r in rows})
            extra = f"; spectral normalizations per layer per chain call: {counts}"
        print_table(
            f"Sampler, {device}, {threads} thread(s), spectral norm {sn}, hidden {HIDDEN}, "
            f"{rows[0]['steps']} steps per call, {rows[0]['clock']} clock: gradient evaluations per "
            f"second (rows x steps / s){extra}",
            ["config", "a bare", "b textbook", "c MALA", "c ULA", "MALA c/a", "ULA c/a",
             "MALA c/b", "ULA c/b", "noise/a", "bound c/a", "goal (both c)"],
            table,
        )


# ------------------------------------------------------------------ inference


def run_inference(args, threads):
    from sklearn.ensemble import IsolationForest

    from outliers import synthetic_data
    from sklearn_ebm import EnergyBasedModel

    X_train = synthetic_data(n_samples=2000, n_features=32, seed=0)
    rows = args.inference_rows
    X = np.random.default_rng(1).standard_normal((rows, 32))
    ebm = EnergyBasedModel(max_iter=1, random_state=0, device=args.device).fit(X_train)
    forest = IsolationForest(random_state=0).fit(X_train)
    ebm.score_samples(X[:1000])
    forest.score_samples(X[:1000])
    seconds = {"ebm": math.inf, "iforest": math.inf}
    for _ in range(2):  # interleaved, best of two
        for name, model in (("ebm", ebm), ("iforest", forest)):
            start = time.perf_counter()
            model.score_samples(X)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    log(f"inference threads={threads}: ebm {seconds['ebm']:.2f}s, iforest "
        f"{seconds['iforest']:.2f}s for {rows} rows")
    return {"threads": threads, "rows": rows, "seconds": seconds,
            "rows_per_s": {k: rows / v for k, v in seconds.items()},
            "ebm_over_iforest": seconds["iforest"] / seconds["ebm"]}


def print_inference(records):
    table = [[r["threads"], r["rows"], f"{r['rows_per_s']['ebm']:.3g}",
              f"{r['rows_per_s']['iforest']:.3g}", fmt(r["ebm_over_iforest"], 1)] for r in records]
    print_table("score_samples throughput, d=32 (EBM fitted with max_iter=1 on 2,000 rows)",
                ["threads", "rows", "EBM rows/s", "IForest rows/s", "EBM speed / IForest"], table)


# ------------------------------------------------------------------ whole fit


class PlainAutoEncoder:
    """d-256-128-256-d SiLU autoencoder, Adam (lr 1e-3), batch 256, MSE."""

    def __init__(self, epochs, seed=0):
        self.epochs = epochs
        self.seed = seed

    def fit(self, X):
        torch.manual_seed(self.seed)
        d = X.shape[1]
        net = nn.Sequential(
            nn.Linear(d, 256), nn.SiLU(), nn.Linear(256, 128), nn.SiLU(),
            nn.Linear(128, 256), nn.SiLU(), nn.Linear(256, d),
        )
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        data = torch.as_tensor(X, dtype=torch.float32)
        for _ in range(self.epochs):
            for index in torch.randperm(len(data)).split(256):
                batch = data[index]
                loss = (net(batch) - batch).square().mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.net_ = net
        return self


def timed_fit(model, X):
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def run_fit(args):
    from outliers import synthetic_data
    from sklearn_ebm import EnergyBasedModel

    X = synthetic_data(n_samples=args.fit_rows, n_features=32, seed=0)
    results = {}
    with limit_threads(1):
        ebm = EnergyBasedModel(random_state=0, device=args.device)
        results["EnergyBasedModel"] = timed_fit(ebm, X)
        epochs = int(ebm.n_iter_)
        log(f"fit ebm: {results['EnergyBasedModel']:.1f}s, {epochs} epochs")
        results[f"plain AE, {epochs} epochs"] = timed_fit(PlainAutoEncoder(epochs), X)
        try:
            from pyod.models.auto_encoder import AutoEncoder
            from pyod.models.deep_svdd import DeepSVDD
        except ImportError:
            log("PyOD is not installed: its AutoEncoder and DeepSVDD are skipped")
        else:
            pyod_device = "cuda" if args.device.startswith("cuda") else "cpu"
            results["PyOD AutoEncoder"] = timed_fit(AutoEncoder(verbose=0, device=pyod_device), X)
            results["PyOD DeepSVDD"] = timed_fit(
                DeepSVDD(n_features=X.shape[1], verbose=0, random_state=0), X
            )
        for name, seconds in results.items():
            log(f"fit {name}: {seconds:.1f}s")
    return {"shape": list(X.shape), "ebm_epochs": epochs, "seconds": results}


def print_fit(record):
    ebm = record["seconds"]["EnergyBasedModel"]
    table = [[name, fmt(s, 1), fmt(ebm / s, 2)] for name, s in record["seconds"].items()]
    print_table(
        f"Fit time, {record['shape'][0]} x {record['shape'][1]} standardized, 1 thread, same run "
        f"(EBM defaults: {record['ebm_epochs']} epochs)",
        ["model", "seconds", "EBM / model"], table,
    )


# ------------------------------------------------------------------ profile


PROFILE_ROUNDS = 3
CALL_MARKER = "speed.py: one chain call"
CATEGORIES = ("matmul", "activation", "random", "bookkeeping", "other", "per-call")
# An aten op called from Python (nested ops count with it) -> its category, for the ops of
# _MLPKernel.step and of the loops of _mala_kernel_chain and langevin_chain:
#   forward: addmm per hidden layer, then _silu_: sigmoid (out=), mul_, lerp_;
#   energies (MALA): mul (x * x, the base term), addmv (the output layer);
#   backward: mm and mul_ (by the derivative) per hidden layer but the first, then the move,
#   addmm (out=) or addmm_ (unadjusted, in place);
#   draws: normal_; uniform_ and log_ (MALA);
#   the update: add (the MALA proposal, out=) or add_ (unadjusted);
#   acceptance (MALA): sub, square_ (-> pow_), addcmul_, sub, addmv_, lt; then where (out=,
#   small batches) or logical_not, nonzero, view, index_select, index_copy_ (large batches).
OP_CATEGORIES = {
    **dict.fromkeys(["addmm", "addmm_", "mm", "addmv", "matmul", "bmm", "linear"], "matmul"),
    **dict.fromkeys(["sigmoid", "sigmoid_", "silu", "silu_", "silu_backward", "sigmoid_backward",
                     "mul_", "lerp_", "addcmul", "gt", "clamp_min_", "tanh", "tanh_"],
                    "activation"),
    **dict.fromkeys(["normal_", "uniform_", "log_", "rand", "randn"], "random"),
    **dict.fromkeys(["sub", "square", "square_", "pow_", "addcmul_", "addmv_", "lt", "where",
                     "unsqueeze", "logical_not", "nonzero", "view", "index_select",
                     "index_copy_", "copy_", "mul"], "bookkeeping"),
}


def op_category(name):
    return OP_CATEGORIES.get(name.removeprefix("aten::"), "other")


def profiled(fn, calls):
    """A CPU profile of ``calls`` calls of ``fn``, each under a marker, and its wall seconds."""
    from torch.profiler import ProfilerActivity, profile, record_function

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(calls):
            with record_function(CALL_MARKER):
                fn()
        wall = time.perf_counter() - start
    return prof, wall


def per_step_span(names, steps, anchor="aten::normal_"):
    """``(start, end)`` of the ops of one call that repeat once per step, or None.

    A step draws its noise once: the distance between two draws is the step's length in ops,
    and the span grows from the draws in both directions while the ops repeat at that
    distance. What is left before (setup, MALA's first gradient) and after runs once per call.
    """
    marks = [i for i, name in enumerate(names) if name == anchor]
    if steps < 2 or len(marks) != steps:
        return None
    period = marks[1] - marks[0]
    if any(b - a != period for a, b in itertools.pairwise(marks)):
        return None
    start, end = marks[0], marks[-1]
    while start > 0 and names[start - 1] == names[start - 1 + period]:
        start -= 1
    while end < len(names) and names[end] == names[end - period]:
        end += 1
    if end - start < steps * period:
        return None
    return end - steps * period, end


def count_ops(event):
    return 1 + sum(count_ops(child) for child in event.cpu_children)


def profile_figures(prof, wall, calls, steps, label):
    """Microseconds per step by category, op counts and per-op figures of one profile."""
    n = calls * steps
    categories = dict.fromkeys(CATEGORIES, 0.0)
    ops = {}
    top_level = nested = 0
    op_us = 0.0
    split = True
    markers = [e for e in prof.events() if e.name == CALL_MARKER and e.cpu_parent is None]
    for marker in markers:
        call = sorted(marker.cpu_children, key=lambda e: e.time_range.start)
        names = [op.name for op in call]
        span = per_step_span(names, steps)
        if span is None:
            split = split and "aten::normal_" not in names
            span = (0, len(call))
        for i, op in enumerate(call):
            category = op_category(op.name) if span[0] <= i < span[1] else "per-call"
            us = op.cpu_time_total  # its self time and that of the ops it calls
            categories[category] += us / n
            key = (op.name.removeprefix("aten::"), category)
            figures = ops.setdefault(key, {"calls_per_step": 0.0, "us_per_step": 0.0})
            figures["calls_per_step"] += 1 / n
            figures["us_per_step"] += us / n
            top_level += 1
            nested += count_ops(op) - 1
            op_us += us
    if not split:
        log(f"profile {label}: no repeating step found; every op counted as per step")
    return {
        "profiled_us_per_step": 1e6 * wall / n,
        "ops_per_step": top_level / n,
        "nested_ops_per_step": nested / n,
        "categories_us_per_step": categories,
        "outside_ops_us_per_step": (1e6 * wall - op_us) / n,
        "ops": [{"op": name, "category": category, **figures}
                for (name, category), figures in ops.items()],
    }


def profile_config(dim, batch, args, clock):
    """Profiles of c (MALA, unadjusted) and a at one shape, and their untimed-by-profiler speed."""
    model = make_model(dim, False, "cpu")
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(batch, dim, generator=generator)
    steps, calls = args.steps, args.profile_calls
    step_a = bare_products(model, batch, "cpu")

    def steps_a():
        for _ in range(steps):
            step_a()

    candidates = {
        "c_mala": project_chain(model, start, steps, True, generator),
        "c_ula": project_chain(model, start, steps, False, generator),
        "a": steps_a,
    }
    with torch.no_grad():
        seconds = interleaved(candidates, args.rounds, args.min_time, lambda: None, CLOCKS[clock])
        best = {}
        for _ in range(PROFILE_ROUNDS):
            for name, fn in candidates.items():
                prof, wall = profiled(fn, calls)
                if name not in best or wall < best[name][1]:
                    best[name] = (prof, wall)
    record = {"d": dim, "batch": batch, "steps": steps, "calls": calls, "clock": clock,
              "samplers": {}}
    for name, (prof, wall) in best.items():
        figures = profile_figures(prof, wall, calls, steps, f"{name} d={dim} batch={batch}")
        figures["us_per_step"] = 1e6 * seconds[name] / steps
        record["samplers"][name] = figures
    return record, {name: prof for name, (prof, _) in best.items()}


def run_profile(args):
    clock = clock_for(args, 1)
    records, first = [], None
    with limit_threads(1):
        profiled(lambda: torch.zeros(1).add_(1), 1)  # the profiler's first start is slow
        for dim in args.dims:
            for batch in args.batches:
                record, profiles = profile_config(dim, batch, args, clock)
                records.append(record)
                first = first or profiles
                s = record["samplers"]
                log(f"profile d={dim} batch={batch}: us/step c_mala "
                    f"{s['c_mala']['us_per_step']:.1f}, c_ula {s['c_ula']['us_per_step']:.1f}, "
                    f"a {s['a']['us_per_step']:.1f}")
    return records, first


SAMPLER_LABELS = {"c_mala": "c MALA", "c_ula": "c ULA", "a": "a bare"}


def print_profile(records, first):
    table = []
    for r in records:
        for name, label in SAMPLER_LABELS.items():
            s = r["samplers"][name]
            c = s["categories_us_per_step"]
            table.append([
                f"d={r['d']} batch={r['batch']}", label, fmt(s["us_per_step"], 1),
                fmt(s["profiled_us_per_step"], 1), fmt(s["ops_per_step"], 1),
                *(fmt(c[k], 1) for k in CATEGORIES), fmt(s["outside_ops_us_per_step"], 1),
            ])
    r0 = records[0]
    print_table(
        f"Profile of a Langevin step, cpu, 1 thread, spectral norm off, hidden {HIDDEN}, "
        f"{r0['steps']} steps per call, {r0['calls']} calls per profile (best of "
        f"{PROFILE_ROUNDS} by wall time): microseconds per step",
        ["config", "sampler", f"us/step ({r0['clock']}, no profiler)", "us/step profiled",
         "ops/step", "matmul us", "activation us", "random us", "bookkeeping us", "other us",
         "per-call us", "outside-ops us"],
        table,
    )
    print("The profiler adds a few microseconds to every op, so the profiled figures exceed the "
          "step time without it,\nmost where ops are many and small. profiled = matmul + "
          "activation + random + bookkeeping + other + per-call + outside-ops.\nEach aten op "
          "called from Python counts with the ops it calls (an addmm's bias copy is matmul); "
          "ops/step counts those called from Python.\nper-call: the ops outside the repeated "
          "step, over the steps; outside-ops: profiled wall time minus the ops' self CPU time\n"
          "(Python, and dispatch between ops).\n")

    samplers = r0["samplers"]
    rows = {}
    for name in SAMPLER_LABELS:
        for op in samplers[name]["ops"]:
            rows.setdefault((op["category"], op["op"]), {})[name] = op
    table = []
    for (category, op), by_sampler in sorted(
        rows.items(), key=lambda item: (CATEGORIES.index(item[0][0]), item[0][1])
    ):
        cells = [op, category]
        for name in SAMPLER_LABELS:
            figures = by_sampler.get(name)
            cells += ["", ""] if figures is None else [
                fmt(figures["calls_per_step"], 2), fmt(figures["us_per_step"], 2)]
        table.append(cells)
    print_table(
        f"Grouping, d={r0['d']} batch={r0['batch']}: the aten ops called from Python, per step "
        "(us include the ops each calls)",
        ["op", "category", "c MALA calls", "c MALA us", "c ULA calls", "c ULA us",
         "a calls", "a us"],
        table,
    )
    total = r0["calls"] * r0["steps"]
    for name in ("c_mala", "c_ula"):
        print(f"Top 12 ops by self CPU time, {SAMPLER_LABELS[name]}, d={r0['d']} "
              f"batch={r0['batch']}, totals over {total} steps (the marker's self time is "
              "Python between ops):\n")
        print(first[name].key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


# ------------------------------------------------------------------ main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a small subset: d 8,128, batch 32,256, fewer rounds, 1e5 rows")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda; cuda skips if absent")
    parser.add_argument("--spectral-norm", default="both", choices=["off", "on", "both"])
    parser.add_argument("--dims", help="comma-separated d (default 8,32,128)")
    parser.add_argument("--batches", help="comma-separated batch sizes (default 32,64,256,1024)")
    parser.add_argument("--steps", type=int, default=10,
                        help="Langevin steps per chain call (default 10, the estimator's)")
    parser.add_argument("--rounds", type=int, help="interleaved timing rounds (default 5, quick 3)")
    parser.add_argument("--min-time", type=float, help="seconds per timing (default 0.1, quick 0.05)")
    parser.add_argument("--clock", default="auto", choices=["auto", "wall", "cpu"],
                        help="timer: auto (default) is the thread's CPU time on 1 CPU thread, "
                             "robust to other processes on a shared machine, else wall time")
    parser.add_argument("--sampler", action=argparse.BooleanOptionalAction, default=True,
                        help="the sampler tables (default on)")
    parser.add_argument("--inference", action=argparse.BooleanOptionalAction, default=True,
                        help="the score_samples table (default on)")
    parser.add_argument("--fit", action=argparse.BooleanOptionalAction, default=None,
                        help="the whole-fit table (default on, off with --quick)")
    parser.add_argument("--profile", action="store_true",
                        help="only profile where a step of c goes next to a (torch.profiler; "
                             "cpu, 1 thread, spectral norm off)")
    parser.add_argument("--profile-calls", type=int, default=20,
                        help="chain calls per profile (default 20)")
    parser.add_argument("--json", metavar="PATH", help="write all raw figures to this JSON file")
    args = parser.parse_args(argv)
    if args.profile:
        args.threads, args.spectral_norm = "1", "off"
    args.threads = [int(t) for t in split_list(args.threads)]
    args.spectral_norm = {"off": [False], "on": [True], "both": [False, True]}[args.spectral_norm]
    default_dims, default_batches = ("8,128", "32,256") if args.quick else ("8,32,128", "32,64,256,1024")
    args.dims = [int(v) for v in split_list(args.dims or default_dims)]
    args.batches = [int(v) for v in split_list(args.batches or default_batches)]
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.min_time = args.min_time or (0.05 if args.quick else 0.1)
    args.inference_rows = 100_000 if args.quick else 1_000_000
    args.fit_rows = 10_000
    if args.fit is None:
        args.fit = not args.quick
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print(f"--device {args.device}: no CUDA device here; skipped.")
            return
        sync = torch.cuda.synchronize
    else:
        sync = lambda: None  # noqa: E731
    print(f"torch {torch.__version__}, device {args.device}, CPU threads {args.threads}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    if args.profile:
        if args.device != "cpu":
            print(f"--profile runs on the CPU only, not on --device {args.device}.")
            return
        records, first = run_profile(args)
        print_profile(records, first)
        if args.json:
            write_json(args.json, {"args": vars(args), "profile": records})
        return
    results = {"args": {k: v for k, v in vars(args).items()}, "sampler": [], "inference": []}
    for threads in args.threads:
        with limit_threads(threads):
            if args.sampler:
                results["sampler"].extend(run_sampler(args, threads, sync))
            if args.inference:
                results["inference"].append(run_inference(args, threads))
    if args.sampler:
        print_sampler(results["sampler"], args.device)
    if args.inference:
        print_inference(results["inference"])
    if args.fit:
        results["fit"] = run_fit(args)
        print_fit(results["fit"])
    print(f"load average {os.getloadavg()[0]:.1f} at the end: above about {os.cpu_count() // 2}, "
          "other processes make the wall-clock figures (2 threads) unreliable")
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
