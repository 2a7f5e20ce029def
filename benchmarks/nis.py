"""Benchmark: VEGAS vs the madnis package vs mlmc_course.nis at the same number of integrand calls.

For each integrand every method gets ``--train-calls`` integrand calls to adapt or train (VEGAS pre-training
included) and ``--eval-calls`` fresh calls for the estimate. Reported per method: the estimate and its pull against the
exact integral, the relative standard deviation per call (``error * sqrt(calls) / integral``; its square is the
variance a method needs per call), the unweighting efficiency (bootstrap maximum, with its 16-84% band, and the
0.1%-overweight quantile; see ``mlmc_course.nis.unweighting``), and the wall time for training and evaluation.

Usage::

    python benchmarks/nis.py                                   # the committed table, CPU
    python benchmarks/nis.py --methods ours --device cuda      # the GPU row
    python benchmarks/nis.py --integrands "camel d4" --train-calls 102400 --eval-calls 100000   # quick look

Prints a markdown table (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from mlmc_course.data import integrands
from mlmc_course.data.integrands import Integrand
from mlmc_course.nis import IntegrationResult, NISIntegrator, run_vegas, unweighting_efficiency
from mlmc_course.nis.results import channel_result

METHODS = ("vegas", "vegas-beta0", "madnis", "madnis-vegas", "ours")
INTEGRANDS = ("camel d4", "camel d8", "ring+line")
MULTICHANNEL = {"ring+line", "drell-yan"}


@dataclass
class Row:
    integrand: str
    method: str
    result: IntegrationResult
    weights: np.ndarray
    truth: float
    truth_error: float
    train_calls: int
    seconds: float


# -- our sampler ---------------------------------------------------------------------------------------------


def ours_settings(itg: Integrand) -> dict:
    """The settings of the ``ours`` rows, the same for every integrand except the channels: six coupling blocks,
    buffered training (5 extra steps per online step on the last 10 batches) and a 2% flat defensive mixture."""
    return dict(
        multichannel=itg.name in MULTICHANNEL,
        bins=16,
        hidden=(64, 64),
        blocks=6,
        loss="variance",
        lr=1e-3,
        lr_final=1e-4,
        batch_size=1024,
        buffer_capacity=10 * 1024,
        buffered_steps=5,
        flat_mix=0.02,
        uniform_fraction=0.1,
    )


def run_ours(itg: Integrand, train_calls: int, eval_calls: int, seed: int, device: str) -> Row:
    start = time.perf_counter()
    nis = NISIntegrator(itg, device=device, seed=seed, **ours_settings(itg))
    nis.train(max(1, train_calls // nis.batch_size))
    used = nis.n_calls
    sample = nis.sample(eval_calls)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    weights = sample.weight.cpu().numpy()
    return Row(itg.name, f"ours ({device})", sample.result(), weights, itg.integral, itg.integral_error, used, seconds)


# -- the madnis package (1.0.0), default settings --------------------------------------------------------------


def _madnis_integrand(itg: Integrand, calls: list[int]):
    from madnis.integrator import Integrand as MadnisIntegrand

    def single(x: torch.Tensor) -> torch.Tensor:
        calls[0] += len(x)
        return itg(x.double()).to(x.dtype)

    if itg.name not in MULTICHANNEL:
        return MadnisIntegrand(single, input_dim=itg.dim)
    if itg.channel_maps is not None:
        raise NotImplementedError("the madnis rows here do not pass channel mappings")

    def multi(x: torch.Tensor, channel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return single(x), itg.prior_weights(x.double()).to(x.dtype)

    return MadnisIntegrand(multi, input_dim=itg.dim, channel_count=itg.n_channels, has_channel_weight_prior=True)


def run_madnis(itg: Integrand, train_calls: int, eval_calls: int, seed: int, vegas_init: bool) -> Row:
    from madnis.integrator import Integrator, VegasPreTraining

    torch.manual_seed(seed)
    calls = [0]
    start = time.perf_counter()
    integrator = Integrator(_madnis_integrand(itg, calls))
    if vegas_init:
        pre = VegasPreTraining(integrator)
        pre.rng = np.random.default_rng(seed)
        n_chan = itg.n_channels if itg.name in MULTICHANNEL else 1
        pre.train([max(1, train_calls // (10 * 10 * n_chan))] * 10)
        pre.initialize_integrator()
    integrator.train(max(1, (train_calls - calls[0]) // integrator.batch_size))
    used = calls[0]
    with torch.no_grad():
        sample = integrator.sample(eval_calls)
    seconds = time.perf_counter() - start
    weights = sample.weights.double()
    if sample.channels is None:
        channel, n_channels = torch.zeros(len(weights), dtype=torch.long), 1
    else:
        channel, n_channels = sample.channels.long(), itg.n_channels
    counts = torch.bincount(channel, minlength=n_channels).double()
    result = channel_result(weights * counts[channel] / len(weights), channel, n_channels)
    name = "madnis + VEGAS init" if vegas_init else "madnis"
    return Row(itg.name, name, result, weights.numpy(), itg.integral, itg.integral_error, used, seconds)


# -- the vegas package ---------------------------------------------------------------------------------------


def run_vegas_row(itg: Integrand, train_calls: int, eval_calls: int, seed: int, beta: float) -> Row:
    run = run_vegas(itg, train_calls, eval_calls, beta=beta, seed=seed)
    name = "vegas (default)" if beta == 0.75 else f"vegas (beta={beta:g})"
    return Row(itg.name, name, run.result, run.weights, itg.integral, itg.integral_error, run.train_calls, run.seconds)


# -- the table -----------------------------------------------------------------------------------------------


def format_row(row: Row) -> str:
    r, u = row.result, unweighting_efficiency(row.weights)
    lo, hi = u.efficiency_boot_band
    pull = (r.value - row.truth) / math.hypot(r.error, row.truth_error)
    return (
        f"| {row.integrand} | {row.method} | {r.value:.5f} ± {r.error:.5f} | {pull:+.2f} | {r.rel_std:.3g} | "
        f"{u.efficiency_boot:.3g} [{lo:.3g}, {hi:.3g}] | {u.efficiency_quantile:.3g} | {row.train_calls:,} + "
        f"{r.n_calls:,} | {row.seconds:.1f} |"
    )


HEADER = (
    "| integrand | method | integral | pull | rel. std | unw. eff. (bootstrap max, 16-84%) | unw. eff. (0.1% "
    "overweight) | calls (train + eval) | wall [s] |\n|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--integrands", nargs="+", default=list(INTEGRANDS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--train-calls", type=int, default=1000 * 1024)
    parser.add_argument("--eval-calls", type=int, default=1000 * 1024)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no GPU")

    lines = [HEADER]
    print(HEADER, flush=True)
    for name in args.integrands:
        itg = integrands.get(name)
        for method in args.methods:
            if method == "vegas":
                row = run_vegas_row(itg, args.train_calls, args.eval_calls, args.seed, 0.75)
            elif method == "vegas-beta0":
                row = run_vegas_row(itg, args.train_calls, args.eval_calls, args.seed, 0.0)
            elif method in ("madnis", "madnis-vegas"):
                row = run_madnis(itg, args.train_calls, args.eval_calls, args.seed, method == "madnis-vegas")
            else:
                row = run_ours(itg, args.train_calls, args.eval_calls, args.seed, args.device)
            lines.append(format_row(row))
            print(lines[-1], flush=True)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({platform.processor() or 'x86-64'})"
    footer = (
        f"\n{args.train_calls:,} training and {args.eval_calls:,} evaluation calls per method; seed {args.seed}; "
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s).\n"
        f"Command: python benchmarks/nis.py {' '.join(argv if argv is not None else sys.argv[1:])}"
    )
    print(footer)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n" + footer + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
