"""DCTR benchmark: fit Pythia 8 parameters of e+e- -> Z -> hadrons with a parameterised classifier.

For every repeat r a classifier is trained on its own samples (Monash events and a scan over all three
parameters) and then fits, for each configuration (each parameter alone, all three together), its own independent
target sample. The table gives the mean and standard deviation of the fitted values over the repeats (the per-fit
uncertainty, as the DCTR paper quotes it), the error of the mean (std / sqrt(R)), the mean statistical error from
the curvature of the likelihood, and wall times. Validation: events generated at the mean fitted values are compared
with an independent target sample in multiplicity, kaons, thrust and hemisphere masses (chi2 / ndf), next to the
same comparison for Monash events (which shows how sensitive each observable is).

Stages (each reads what the previous ones left in the cache):
    generate   Pythia only: training, target and normalisation samples
    fit        torch: train the classifiers and fit every target; writes <cache>/dctr_benchmark/<scale>.json
    validate   Pythia only: samples at the mean fitted values
    report     the markdown table (stdout, and --out)
    all        the four in order (the default)

Closure (coverage) test and learning curve (their own seeds, separate from the stages above):
    python benchmarks/dctr.py --closure --closure-scale ci       # ~25 pseudo-targets, blind fits, pull table
    python benchmarks/dctr.py --learning-curve --closure-scale ci   # bias and spread against training events

Usage:
    python benchmarks/dctr.py all --scale tiny       # a smoke test of the script (a minute or two)
    python benchmarks/dctr.py all --scale small      # 2 CPU cores
    python benchmarks/dctr.py all --scale full       # many cores and a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from mlmc_course.data import pythia as P

SCALES: dict[str, dict] = {
    "tiny": dict(
        n_train=2_000,
        n_target=1_000,
        n_norm=1_000,
        n_valid=1_000,
        repeats=2,
        events_per_point=250,
        epochs=2,
        batch_size=256,
        phi=(16,),
        latent=8,
        head=(16,),
    ),
    "small": dict(
        n_train=40_000,
        n_target=20_000,
        n_norm=20_000,
        n_valid=20_000,
        repeats=3,
        events_per_point=500,
        epochs=8,
        batch_size=512,
        phi=(32, 32),
        latent=16,
        head=(64, 64),
    ),
    "full": dict(
        n_train=150_000,
        n_target=30_000,
        n_norm=30_000,
        n_valid=40_000,
        repeats=4,
        events_per_point=1000,
        epochs=20,
        batch_size=1024,
        phi=(64, 64, 64),
        latent=64,
        head=(128, 128),
    ),
}
CONFIGS: dict[str, dict[str, float]] = {
    "alpha_s alone": {"TimeShower:alphaSvalue": 0.16},
    "a_lund alone": {"StringZ:aLund": 0.80},
    "prob_s_to_ud alone": {"StringFlav:probStoUD": 0.275},
    "all three": {"TimeShower:alphaSvalue": 0.17, "StringZ:aLund": 0.75, "StringFlav:probStoUD": 0.14},
}
# DCTR paper (arXiv:1907.08209): single-parameter fits as quoted in the course's issue 7, and its Table II
# (blinded simultaneous fit, mean ± std over 20 runs) as quoted in the MCnet lecture the course draws on.
PAPER: dict[str, dict[str, str]] = {
    "alpha_s alone": {"TimeShower:alphaSvalue": "0.1588"},
    "a_lund alone": {"StringZ:aLund": "0.7969"},
    "prob_s_to_ud alone": {"StringFlav:probStoUD": "0.2693"},
    "all three": {
        "TimeShower:alphaSvalue": "0.1707 ± 0.0022",
        "StringZ:aLund": "0.7425 ± 0.0453",
        "StringFlav:probStoUD": "0.1422 ± 0.0065",
    },
}
OBS_BINS = {
    "n_charged": np.arange(3, 50, 2.0),
    "n_kaons": np.arange(-0.5, 10.5, 1.0),
    "thrust": np.linspace(0.7, 1.0, 31),
    "heavy_jet_mass": np.linspace(0, 40, 41),
    "light_jet_mass": np.linspace(0, 25, 26),
}


def seeds(r: int, c: int = 0) -> dict[str, int]:
    """Independent seeds for repeat r (and configuration c)."""
    return {"nominal": 1000 + r, "scan": 2000 + r, "target": 3000 + 10 * r + c, "norm": 4000 + r}


def results_path(scale: str) -> Path:
    from mlmc_course.data.store import cache_dir

    return cache_dir() / "dctr_benchmark" / f"{scale}.json"


def stage_generate(cfg: dict, workers: int | None) -> float:
    start = time.perf_counter()
    for r in range(cfg["repeats"]):
        s = seeds(r)
        P.generate(None, cfg["n_train"], seed=s["nominal"], n_workers=workers)
        P.generate_scan(cfg["n_train"], events_per_point=cfg["events_per_point"], seed=s["scan"], n_workers=workers)
        P.generate(None, cfg["n_norm"], seed=s["norm"], n_workers=workers)
        for c, target in enumerate(CONFIGS.values()):
            P.generate(target, cfg["n_target"], seed=seeds(r, c)["target"], n_workers=workers)
    return time.perf_counter() - start


def stage_fit(cfg: dict, scale: str, gen_time: float | None) -> dict:
    import torch

    from mlmc_course import dctr

    device = "cuda" if torch.cuda.is_available() else "cpu"
    names = P.PARAMETERS
    nominal = [P.MONASH[k] for k in names]
    low, high = [P.RANGES[k][0] for k in names], [P.RANGES[k][1] for k in names]
    out: dict = {"scale": scale, "config": cfg, "device": device, "fits": {c: [] for c in CONFIGS}, "train": []}
    for r in range(cfg["repeats"]):
        s = seeds(r)
        nom = P.generate(None, cfg["n_train"], seed=s["nominal"], progress=False)
        scan = P.generate_scan(cfg["n_train"], events_per_point=cfg["events_per_point"], seed=s["scan"], progress=False)
        x0, m0 = nom.cloud()
        x1, m1 = scan.cloud()
        start = time.perf_counter()
        model = dctr.train(
            x0,
            m0,
            x1,
            m1,
            scan.params,
            names=names,
            nominal_theta=nominal,
            low=low,
            high=high,
            phi=cfg["phi"],
            latent=cfg["latent"],
            head=cfg["head"],
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            seed=r,
            device=device,
            progress=False,
        )
        train_time = time.perf_counter() - start
        del x0, m0, x1, m1
        out["train"].append(
            {"seconds": train_time, "best_epoch": model.history.best_epoch, "val_loss": min(model.history.val)}
        )
        print(f"repeat {r}: trained in {train_time:.0f} s, validation losses {np.round(model.history.val, 5)}")
        xn, mn = P.generate(None, cfg["n_norm"], seed=s["norm"], progress=False).cloud()
        for c, (label, target) in enumerate(CONFIGS.items()):
            xt, mt = P.generate(target, cfg["n_target"], seed=seeds(r, c)["target"], progress=False).cloud()
            start = time.perf_counter()
            fit = dctr.fit_parameters(model, xt, mt, xn, mn, free=[P.full_name(k) for k in target])
            out["fits"][label].append(
                {"values": fit.values.tolist(), "errors": fit.errors.tolist(), "seconds": time.perf_counter() - start}
            )
            print(f"repeat {r}, {label}: {fit}", flush=True)
    out["generate_seconds"] = gen_time
    path = results_path(scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    return out


def mean_fits(results: dict) -> dict[str, dict[str, float]]:
    """Configuration -> the mean fitted value of each free parameter."""
    means = {}
    for label, target in CONFIGS.items():
        values = np.array([f["values"] for f in results["fits"][label]])
        means[label] = {P.full_name(k): float(v) for k, v in zip(target, values.mean(0), strict=True)}
    return means


def stage_validate(cfg: dict, scale: str, workers: int | None) -> float:
    results = json.loads(results_path(scale).read_text())
    start = time.perf_counter()
    for c, (label, point) in enumerate(mean_fits(results).items()):
        P.generate(point, cfg["n_valid"], seed=5000 + c, n_workers=workers)
        P.generate(CONFIGS[label], cfg["n_valid"], seed=6000 + c, n_workers=workers)
    P.generate(None, cfg["n_valid"], seed=7000, n_workers=workers)
    return time.perf_counter() - start


def stage_report(cfg: dict, scale: str, valid_time: float | None) -> str:
    from mlmc_course.reweight import compare_histograms

    results = json.loads(results_path(scale).read_text())
    repeats = cfg["repeats"]
    lines = [
        f"### DCTR fits, scale `{scale}`: {repeats} repeats, each with its own classifier and target sample",
        "",
        f"Training per repeat: {cfg['n_train']:,} Monash + {cfg['n_train']:,} scan events "
        f"({cfg['events_per_point']} per parameter point), {cfg['epochs']} epochs (best validation epoch kept), "
        f"PFN phi={cfg['phi']}, latent={cfg['latent']}, F={cfg['head']}; targets {cfg['n_target']:,} events, "
        f"normalisation sample {cfg['n_norm']:,} Monash events. Device for training: {results['device']}.",
        "",
        "| configuration | parameter | truth | fit: mean ± std over repeats | error of the mean | "
        "(mean - truth) / std | mean stat. error (Hessian) | DCTR paper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, target in CONFIGS.items():
        fits = results["fits"][label]
        values = np.array([f["values"] for f in fits])
        errors = np.array([f["errors"] for f in fits])
        for k, (name, truth) in enumerate(target.items()):
            mean, std = values[:, k].mean(), values[:, k].std(ddof=1)
            pull = (mean - truth) / std
            lines.append(
                f"| {label} | `{name}` | {truth:.4f} | {mean:.4f} ± {std:.4f} | {std / np.sqrt(repeats):.4f} | "
                f"{pull:+.2f} | {np.nanmean(errors[:, k]):.4f} | {PAPER[label][name]} |"
            )
    train = results["train"]
    fit_seconds = [f["seconds"] for fits in results["fits"].values() for f in fits]
    lines += [
        "",
        "Times (wall clock): "
        + (f"generating all samples {results['generate_seconds']:.0f} s; " if results.get("generate_seconds") else "")
        + f"training {np.mean([t['seconds'] for t in train]):.0f} s per classifier "
        f"(best epochs {[t['best_epoch'] for t in train]}); fitting {np.mean(fit_seconds):.1f} s per fit"
        + (f"; validation samples {valid_time:.0f} s." if valid_time else "."),
        "",
        f"### Validation: {cfg['n_valid']:,} events at the mean fitted values against an independent target sample",
        "",
        "| configuration | " + " | ".join(f"{o} chi2/ndf (Monash: chi2/ndf)" for o in OBS_BINS) + " |",
        "|---|" + "---|" * len(OBS_BINS),
    ]
    monash = P.generate(None, cfg["n_valid"], seed=7000, progress=False)
    for c, (label, point) in enumerate(mean_fits(results).items()):
        fitted = P.generate(point, cfg["n_valid"], seed=5000 + c, progress=False)
        target = P.generate(CONFIGS[label], cfg["n_valid"], seed=6000 + c, progress=False)
        cells = []
        for obs, bins in OBS_BINS.items():
            a = compare_histograms(fitted.observables[obs], target.observables[obs], bins)
            b = compare_histograms(monash.observables[obs], target.observables[obs], bins)
            cells.append(f"{a.chi2:.0f}/{a.ndf} ({b.chi2:.0f}/{b.ndf})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


CLOSURE_SCALES: dict[str, dict] = {
    "smoke": dict(
        n_train=2_000,
        events_per_point=200,
        n_norm=1_000,
        n_target=1_000,
        n_points=4,
        k=2,
        n_bootstrap=4,
        epochs=3,
        patience=2,
        batch_size=256,
        phi=(16,),
        latent=8,
        head=(16,),
        sizes=(1_000, 2_000),
    ),
    "ci": dict(
        n_train=5_000,
        events_per_point=250,
        n_norm=4_000,
        n_target=2_000,
        n_points=25,
        k=5,
        n_bootstrap=6,
        epochs=6,
        patience=2,
        batch_size=256,
        phi=(32,),
        latent=16,
        head=(32, 32),
        sizes=(1_250, 2_500, 5_000),
        steps=120,
    ),
}
"""Closure scales: ``ci`` is the one that runs on the course's 2 shared cores (about half an hour)."""
INNER = 0.1  # pseudo-targets are drawn from the inner 80% of each training range


def closure_seeds(i: int) -> dict[str, int]:
    """Seeds of the closure test, disjoint from :func:`seeds` and from the lessons' (cfg.seed + small offsets)."""
    return {"nominal": 11_001, "scan": 12_001, "norm": 14_001, "target": 20_000 + i, "points": 31}


def closure_points(n: int) -> np.ndarray:
    """``(n, 3)`` random parameter points inside the training ranges (uniform over their inner 80%)."""
    rng = np.random.default_rng(closure_seeds(0)["points"])
    lo = np.array([P.RANGES[k][0] for k in P.PARAMETERS])
    hi = np.array([P.RANGES[k][1] for k in P.PARAMETERS])
    return rng.uniform(lo + INNER * (hi - lo), hi - INNER * (hi - lo), size=(n, 3))


def _train_ensemble(cfg: dict, n_train: int, workers: int | None, k: int):
    from mlmc_course import dctr

    s = closure_seeds(0)
    nom = P.generate(None, n_train, seed=s["nominal"], n_workers=workers, progress=False)
    scan = P.generate_scan(
        n_train, events_per_point=cfg["events_per_point"], seed=s["scan"], n_workers=workers, progress=False
    )
    x0, m0 = nom.cloud()
    x1, m1 = scan.cloud()
    return dctr.train_ensemble(
        x0,
        m0,
        x1,
        m1,
        scan.params,
        k=k,
        names=P.PARAMETERS,
        nominal_theta=[P.MONASH[n] for n in P.PARAMETERS],
        low=[P.RANGES[n][0] for n in P.PARAMETERS],
        high=[P.RANGES[n][1] for n in P.PARAMETERS],
        phi=cfg["phi"],
        latent=cfg["latent"],
        head=cfg["head"],
        epochs=cfg["epochs"],
        patience=cfg["patience"],
        batch_size=cfg["batch_size"],
        device="cpu",
        progress=False,
    )


def pull_table(names, truths, values, errors) -> list[str]:
    """Markdown rows: pull mean, width (std), 68% and 95% coverage per parameter."""
    pulls = (values - truths) / errors
    rows = []
    for k, name in enumerate(names):
        p = pulls[:, k]
        rows.append(
            f"| `{name}` | {len(p)} | {p.mean():+.2f} ± {p.std(ddof=1) / np.sqrt(len(p)):.2f} | {p.std(ddof=1):.2f} | "
            f"{np.mean(np.abs(p) < 1):.0%} | {np.mean(np.abs(p) < 1.96):.0%} | "
            f"{np.median(errors[:, k]):.4f} |"
        )
    return rows


def run_closure(scale: str, workers: int | None) -> None:
    """Train one ensemble, fit >= 20 blind pseudo-targets, report pulls before and after a leave-one-out
    calibration (each point corrected by a line measured on the other points only)."""
    from mlmc_course import dctr

    cfg = CLOSURE_SCALES[scale]
    t0 = time.perf_counter()
    ensemble = _train_ensemble(cfg, cfg["n_train"], workers, cfg["k"])
    t_train = time.perf_counter() - t0
    best = [m.history.best_epoch for m in ensemble]
    ran = [len(m.history.val) for m in ensemble]
    print(f"ensemble of {cfg['k']} trained in {t_train:.0f} s; best epochs {best} of {ran} run", flush=True)
    xn, mn = P.generate(None, cfg["n_norm"], seed=closure_seeds(0)["norm"], n_workers=workers, progress=False).cloud()
    points = closure_points(cfg["n_points"])
    fits = []
    for i, point in enumerate(points):
        target = P.generate(
            dict(zip(P.PARAMETERS, point, strict=True)),
            cfg["n_target"],
            seed=closure_seeds(i)["target"],
            n_workers=workers,
            progress=False,
            cache=False,
        )
        xt, mt = target.cloud()
        fit = dctr.fit_parameters(
            ensemble, xt, mt, xn, mn, n_bootstrap=cfg["n_bootstrap"], seed=i, steps=cfg.get("steps", 300)
        )
        fits.append(fit)
        print(f"point {i}: truth {np.round(point, 4)}; {fit}", flush=True)
        _closure_record(scale, cfg, points[: i + 1], fits, best, ran, t_train, time.perf_counter() - t0)


def _closure_record(scale, cfg, points, fits, best, ran, t_train, wall) -> dict:
    """The closure's json record (written after every point, so a cut run leaves its finished points)."""
    from mlmc_course import dctr

    names = P.PARAMETERS
    values = np.array([f.values for f in fits])
    record = {
        "scale": scale,
        "config": cfg,
        "points": points.tolist(),
        "values": values.tolist(),
        "hessian": [f.hessian_errors.tolist() for f in fits],
        "asymptotic": [f.asymptotic_errors.tolist() for f in fits],
        "bootstrap": [f.bootstrap_errors.tolist() for f in fits],
        "training": [f.training_errors.tolist() for f in fits],
        "total": [f.errors.tolist() for f in fits],
        "correlation": [f.correlation.tolist() for f in fits],
        "best_epochs": best,
        "epochs_run": ran,
        "train_seconds": t_train,
        "wall_seconds": wall,
        "n_points_planned": cfg["n_points"],
    }
    if len(fits) < 4:
        return _write_record(scale, record)
    try:
        corrected = []
        for i in range(len(fits)):
            rest = [j for j in range(len(fits)) if j != i]
            errs = np.array([fits[j].errors for j in rest])
            cal = dctr.Calibration.measure(names, points[rest], values[rest], errs)
            corrected.append(cal.apply(fits[i]))
        record["corrected_values"] = [f.values.tolist() for f in corrected]
        record["corrected_total"] = [f.errors.tolist() for f in corrected]
        full_cal = dctr.Calibration.measure(names, points, values, np.array(record["total"]))
        record["calibration"] = full_cal.coefficients.tolist()
    except ValueError as err:
        print(f"no calibration: {err}")
    return _write_record(scale, record)


def _write_record(scale: str, record: dict) -> dict:
    path = closure_path(scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    return record


def closure_path(scale: str) -> Path:
    from mlmc_course.data.store import cache_dir

    return cache_dir() / "dctr_benchmark" / f"closure_{scale}.json"


def closure_report(record: dict) -> str:
    names = P.PARAMETERS
    points = np.array(record["points"])
    cfg = record["config"]
    head = "| parameter | points | mean pull | pull width | 68% coverage | 95% coverage | median total error |"
    lines = [
        f"Closure scale `{record['scale']}`: ensemble of {cfg['k']} classifiers (bootstrap replicas of "
        f"{cfg['n_train']:,} Monash + {cfg['n_train']:,} scan events, {cfg['events_per_point']} per point, "
        f"at most {cfg['epochs']} epochs, patience {cfg['patience']}; best epochs {record['best_epochs']} of "
        f"{record['epochs_run']} run), {len(points)} of {record['n_points_planned']} planned pseudo-targets "
        f"of {cfg['n_target']:,} events at random points "
        f"(each its own seed), normalisation {cfg['n_norm']:,} Monash events, all three parameters free, "
        f"{cfg['n_bootstrap']} bootstrap refits per fit. Wall time {record['wall_seconds'] / 60:.0f} min "
        f"(training {record['train_seconds'] / 60:.0f} min).",
        "",
        "Uncalibrated (errors: bootstrap statistical + ensemble training):",
        "",
        head,
        "|---|---|---|---|---|---|---|",
        *pull_table(names, points, np.array(record["values"]), np.array(record["total"])),
        "",
    ]
    if "calibration" not in record:
        why = (
            "fewer than 4 points" if len(points) < 4 else "a slope was not positive (the fits do not follow the truth)"
        )
        return "\n".join([*lines, "", f"No calibration: {why}."])
    lines += [
        "After a leave-one-out linear calibration (each point corrected by a line fitted to the other points; the "
        "line's uncertainty added):",
        "",
        head,
        "|---|---|---|---|---|---|---|",
        *pull_table(names, points, np.array(record["corrected_values"]), np.array(record["corrected_total"])),
        "",
        "Median errors by source (Hessian / asymptotic sandwich / bootstrap / training):",
        "",
    ]
    for k, name in enumerate(names):
        med = [np.median(np.array(record[s])[:, k]) for s in ("hessian", "asymptotic", "bootstrap", "training")]
        lines.append(f"- `{name}`: " + " / ".join(f"{m:.4f}" for m in med))
    cal = np.array(record["calibration"])
    lines += [
        "",
        "Calibration lines (fit = a + b truth, all points): "
        + "; ".join(f"{n.split(':')[1]}: a = {a:+.4f}, b = {b:.3f}" for n, (a, b) in zip(names, cal, strict=True)),
    ]
    return "\n".join(lines)


def run_learning_curve(scale: str, workers: int | None) -> None:
    """Bias and spread of blind fits against the number of training events (one classifier per size)."""
    from mlmc_course import dctr

    cfg = CLOSURE_SCALES[scale]
    xn, mn = P.generate(None, cfg["n_norm"], seed=closure_seeds(0)["norm"], n_workers=workers, progress=False).cloud()
    points = closure_points(6)
    targets = [
        P.generate(
            dict(zip(P.PARAMETERS, p, strict=True)), cfg["n_target"], seed=50_000 + i, n_workers=workers, progress=False
        ).cloud()
        for i, p in enumerate(points)
    ]
    print("| training events per class | parameter | mean (fit - truth) | std (fit - truth) | best epoch |")
    print("|---|---|---|---|---|")
    for n in cfg["sizes"]:
        start = time.perf_counter()
        (model,) = _train_ensemble(cfg, n, workers, 1)
        diffs = np.array(
            [dctr.fit_parameters(model, xt, mt, xn, mn).values - p for (xt, mt), p in zip(targets, points, strict=True)]
        )
        for k, name in enumerate(P.PARAMETERS):
            print(
                f"| {n:,} | `{name}` | {diffs[:, k].mean():+.4f} | {diffs[:, k].std(ddof=1):.4f} | "
                f"{model.history.best_epoch}/{len(model.history.val)} |",
                flush=True,
            )
        print(f"<!-- {n}: {time.perf_counter() - start:.0f} s -->", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", nargs="?", default="all", choices=["generate", "fit", "validate", "report", "all"])
    parser.add_argument("--scale", default="small", choices=sorted(SCALES))
    parser.add_argument("--workers", type=int, default=None, help="Pythia processes (default: every core)")
    parser.add_argument("--repeats", type=int, default=None, help="override the scale's number of repeats")
    parser.add_argument("--out", help="also write the markdown table (closure: the json record) to this file")
    parser.add_argument("--closure", action="store_true", help="run the closure (coverage) test instead")
    parser.add_argument("--learning-curve", action="store_true", help="run the learning curve instead")
    parser.add_argument("--closure-scale", default="ci", choices=sorted(CLOSURE_SCALES))
    parser.add_argument("--closure-report", action="store_true", help="print the table of the last closure record")
    args = parser.parse_args()
    if args.closure or args.closure_report:
        if args.closure:
            run_closure(args.closure_scale, args.workers)
        table = closure_report(json.loads(closure_path(args.closure_scale).read_text()))
        print(table)
        if args.out:
            Path(args.out).write_text(table + "\n")
        return
    if args.learning_curve:
        run_learning_curve(args.closure_scale, args.workers)
        return
    cfg = dict(SCALES[args.scale])
    if args.repeats is not None:
        cfg["repeats"] = args.repeats
    print(f"# DCTR benchmark, scale {args.scale}, {platform.node()}, {platform.processor() or platform.machine()}")
    gen_time = valid_time = None
    if args.stage in ("generate", "all"):
        gen_time = stage_generate(cfg, args.workers)
        print(f"generated in {gen_time:.0f} s", flush=True)
    if args.stage in ("fit", "all"):
        stage_fit(cfg, args.scale, gen_time)
    if args.stage in ("validate", "all"):
        valid_time = stage_validate(cfg, args.scale, args.workers)
        print(f"validation samples in {valid_time:.0f} s", flush=True)
    if args.stage in ("report", "all"):
        table = stage_report(cfg, args.scale, valid_time)
        print(table)
        if args.out:
            Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
