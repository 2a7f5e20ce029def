"""Benchmark: VEGAS vs the madnis package vs mlmc_course.nis at the same number of integrand calls.

For each integrand every method gets ``--train-calls`` integrand calls to adapt or train (VEGAS pre-training
included) and ``--eval-calls`` fresh calls for the estimate. Reported per method: the estimate and its pull against the
exact integral, the relative standard deviation per call (``error * sqrt(calls) / integral``; its square is the
variance a method needs per call), the unweighting efficiency (bootstrap maximum, with its 16-84% band, and the
0.1%-overweight quantile; see ``mlmc_course.nis.unweighting``), and the wall time for training and evaluation.

Every method runs with its defaults on every integrand, single-channel, nothing tuned per integrand; 5 seeds each.
CPU seconds (``time.process_time``) are split into training and sampling where the method allows it.

Usage::

    python benchmarks/nis.py --threads 1 --out benchmarks/results/nis.md      # the committed table, CPU
    python benchmarks/nis.py --methods ours --device cuda                      # the GPU rows
    python benchmarks/nis.py --integrands "camel d4" --seeds 1                 # quick look

Prints a markdown table (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from mlmc_course.data import integrands
from mlmc_course.data.integrands import Integrand
from mlmc_course.nis import IntegrationResult, NISIntegrator, run_vegas, weight_diagnostics
from mlmc_course.nis.results import channel_result

METHODS = ("vegas", "vegas-beta0", "madnis", "madnis-vegas", "ours")
DEFAULT_METHODS = ("vegas", "vegas-beta0", "madnis", "ours")
INTEGRANDS = (*integrands.STRESS_SUITE, "camel d4", "camel d8", "ring+line")
MULTICHANNEL: set[str] = set()  # every method runs single-channel with its defaults: nothing is tuned per integrand


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
    train_seconds: float = math.nan
    eval_seconds: float = math.nan
    fallback: bool = False


# -- our sampler ---------------------------------------------------------------------------------------------


def run_ours(itg: Integrand, train_calls: int, eval_calls: int, seed: int, device: str) -> Row:
    """``NISIntegrator(f)`` with its defaults, nothing tuned: the configuration a new user gets."""
    start = time.process_time()
    nis = NISIntegrator(itg, device=device, seed=seed)
    nis.train(max(1, train_calls // nis.batch_size))
    used = nis.n_calls
    mid = time.process_time()
    sample = nis.sample(eval_calls)
    if device == "cuda":
        torch.cuda.synchronize()
    end = time.process_time()
    weights = sample.weight.cpu().numpy()
    row = Row(
        itg.name, f"ours ({device})", sample.result(), weights, itg.integral, itg.integral_error, used, end - start
    )
    row.train_seconds, row.eval_seconds = mid - start, end - mid
    row.fallback = not nis.use_flow
    return row


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
    start = time.process_time()
    integrator = Integrator(_madnis_integrand(itg, calls))
    if vegas_init:
        pre = VegasPreTraining(integrator)
        pre.rng = np.random.default_rng(seed)
        n_chan = itg.n_channels if itg.name in MULTICHANNEL else 1
        pre.train([max(1, train_calls // (10 * 10 * n_chan))] * 10)
        pre.initialize_integrator()
    # madnis re-draws a training batch until half its points are non-zero: every call counts against the budget
    step_cost = integrator.batch_size
    while calls[0] + step_cost <= train_calls:
        before = calls[0]
        integrator.train(1)
        step_cost = calls[0] - before
    used = calls[0]
    mid = time.process_time()
    with torch.no_grad():
        sample = integrator.sample(eval_calls)
    end = time.process_time()
    seconds = end - start
    weights = sample.weights.double()
    if sample.channels is None:
        channel, n_channels = torch.zeros(len(weights), dtype=torch.long), 1
    else:
        channel, n_channels = sample.channels.long(), itg.n_channels
    counts = torch.bincount(channel, minlength=n_channels).double()
    result = channel_result(weights * counts[channel] / len(weights), channel, n_channels)
    name = "madnis + VEGAS init" if vegas_init else "madnis"
    row = Row(itg.name, name, result, weights.numpy(), itg.integral, itg.integral_error, used, seconds)
    row.train_seconds, row.eval_seconds = mid - start, end - mid
    return row


# -- the vegas package ---------------------------------------------------------------------------------------


def run_vegas_row(itg: Integrand, train_calls: int, eval_calls: int, seed: int, beta: float) -> Row:
    run = run_vegas(itg, train_calls, eval_calls, beta=beta, seed=seed)
    name = "vegas (default)" if beta == 0.75 else f"vegas (beta={beta:g})"
    return Row(itg.name, name, run.result, run.weights, itg.integral, itg.integral_error, run.train_calls, run.seconds)


# -- the table -----------------------------------------------------------------------------------------------


def pull_of(row: Row) -> float:
    r = row.result
    return (r.value - row.truth) / math.hypot(r.error, row.truth_error)


@dataclass
class Summary:
    integrand: str
    method: str
    rows: list[Row]

    def pulls(self) -> np.ndarray:
        return np.array([pull_of(r) for r in self.rows])

    def rel_stds(self) -> np.ndarray:
        return np.array([r.result.rel_std for r in self.rows])

    def diagnostics(self) -> list:
        return [weight_diagnostics(r.weights) for r in self.rows]

    def line(self) -> str:
        pulls, rs, diags = self.pulls(), self.rel_stds(), self.diagnostics()
        worst = pulls[np.argmax(np.abs(pulls))]
        eff = np.median([d.efficiency for d in diags])
        wmax = max(d.max_weight_ratio for d in diags)
        flagged = sum(not d.trustworthy for d in diags)
        calls = np.mean([r.train_calls + r.result.n_calls for r in self.rows])
        train_cpu = np.mean([r.train_seconds / r.train_calls for r in self.rows]) * 1e6
        eval_cpu = np.mean([r.eval_seconds / r.result.n_calls for r in self.rows]) * 1e6
        note = f" ({sum(r.fallback for r in self.rows)} fell back to VEGAS)" if self.method.startswith("ours") else ""
        return (
            f"| {self.integrand} | {self.method}{note} | {np.median(pulls):+.2f} | {worst:+.2f} | "
            f"{np.median(rs):.3g} | {rs.max():.3g} | {eff:.3g} | {wmax:.3g} | {flagged}/{len(self.rows)} | "
            f"{calls:,.0f} | {train_cpu:.3g} | {eval_cpu:.3g} |"
        )


HEADER = (
    "| integrand | method | median pull | worst pull | median rel. std | worst rel. std | unw. eff. (0.1% "
    "overweight, median) | max w / <w> (worst) | runs flagged heavy-tailed | calls per run (train + eval) | "
    "CPU s / M train calls | CPU s / M eval calls |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def trustworthy_vegas(s: Summary) -> np.ndarray:
    """rel. std of VEGAS runs, inf where the run's own |pull| > 3 (a wrong VEGAS result is not a better one)."""
    return np.where(np.abs(s.pulls()) > 3, np.inf, s.rel_stds())


def verdict(by_method: dict[str, Summary]) -> str:
    """The done-when line of issue 14 for one integrand."""
    ours = next(v for k, v in by_method.items() if k.startswith("ours"))
    pulls, rs = ours.pulls(), ours.rel_stds()
    vegas = [trustworthy_vegas(by_method[m]) for m in ("vegas (default)", "vegas (beta=0)") if m in by_method]
    best_vegas = np.min([np.median(v) for v in vegas]) if vegas else math.nan
    not_worse = sum(abs(p) < 3 and all(r <= np.median(v) for v in vegas) for p, r in zip(pulls, rs, strict=True))
    madnis = by_method.get("madnis")
    madnis_rs = np.median(madnis.rel_stds()) if madnis else math.nan
    three_x = np.median(rs) * 3 <= best_vegas and (madnis is None or np.median(rs) <= madnis_rs)
    return (
        f"| {ours.integrand} | {not_worse}/{len(pulls)} | {'yes' if not_worse >= 4 else 'no'} | "
        f"{best_vegas / np.median(rs):.3g} | {madnis_rs / np.median(rs):.3g} | {'yes' if three_x else 'no'} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--integrands", nargs="+", default=list(INTEGRANDS))
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS)
    parser.add_argument("--train-calls", type=int, default=64 * 1024)
    parser.add_argument("--eval-calls", type=int, default=64 * 1024)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N per integrand and method")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no GPU")

    wall = time.perf_counter()
    lines = [HEADER]
    verdicts = [
        "| integrand | seeds with pull < 3 and rel. std <= both VEGAS | >= 4 of 5 | VEGAS (best) / ours rel. std | "
        "madnis / ours rel. std | 3x below VEGAS and not above madnis |\n|---|---|---|---|---|---|"
    ]
    print(HEADER, flush=True)
    for name in args.integrands:
        itg = integrands.get(name)
        by_method: dict[str, Summary] = {}
        for method in args.methods:
            rows = []
            for seed in range(1, args.seeds + 1):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if method == "vegas":
                        row = run_vegas_row(itg, args.train_calls, args.eval_calls, seed, 0.75)
                    elif method == "vegas-beta0":
                        row = run_vegas_row(itg, args.train_calls, args.eval_calls, seed, 0.0)
                    elif method in ("madnis", "madnis-vegas"):
                        row = run_madnis(itg, args.train_calls, args.eval_calls, seed, method == "madnis-vegas")
                    else:
                        row = run_ours(itg, args.train_calls, args.eval_calls, seed, args.device)
                rows.append(row)
            summary = Summary(itg.name, rows[0].method, rows)
            by_method[summary.method] = summary
            lines.append(summary.line())
            print(lines[-1], flush=True)
        if any(k.startswith("ours") for k in by_method):
            verdicts.append(verdict(by_method))
            print(verdicts[-1], flush=True)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({platform.processor() or 'x86-64'})"
    footer = (
        f"\n{args.train_calls:,} training and {args.eval_calls:,} evaluation calls per run; seeds 1-{args.seeds}; "
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s); "
        f"wall time {time.perf_counter() - wall:.0f} s.\n"
        f"Command: python benchmarks/nis.py {' '.join(argv if argv is not None else sys.argv[1:])}"
    )
    print(footer)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n" + footer + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
