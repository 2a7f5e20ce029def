"""Benchmark the course's top taggers on one data set, side by side with the same model class from a peer library.

Prints a markdown table in the landscape paper's format (AUC and R30 with bootstrap errors, parameters) plus the
training time, and optionally writes it to a file:

    python benchmarks/taggers.py --out benchmarks/results/taggers.md          # shipped subset, CPU
    python benchmarks/taggers.py --full --n-train 1200000 --epochs 30         # public data (download it first)

Taggers: a BDT (xgboost) and a dense network on jet features, a CNN on jet images, a particle-flow network, an
attention tagger and an attention tagger with ParT's pairwise features on point clouds
(``mlmc_course.models.taggers``, trained with ``mlmc_course.training.fit``), and the peer: energyflow's PFN (Keras),
with the same layer sizes, epochs, batch size and learning rate as ours. The networks train with a cosine
learning-rate schedule and keep the weights of the epoch with the lowest validation loss.

``--learning-curve 5625,11250`` trains the chosen taggers again on the first 5625 and 11250 training jets (same
validation and test sets) and adds a table of AUC against the number of training jets.

``--generate N`` uses N top and N QCD jets freshly generated with ``mlmc_course.data.jets`` (Pythia 8 + FastJet,
particle level, seed ``--gen-seed``, independent of the shipped subset's) instead of the shipped subset, split
like it (62.5 % train, 12.5 % validation, 25 % test, per class). The generation runs as Dask tasks on a local
cluster (``--gen-workers``, default one per core) or on an existing one (``--scheduler ADDRESS`` or
``$MLMC_COURSE_SCHEDULER``), and its chunks stay in the cache: a second run, or a run with more jets and the same
seed, generates only what is missing. The learning curve past 100k training jets (issue 20) is this command
(160k jets: 100k train, 20k validation, 40k test; about 45 CPU-seconds of Pythia per 1000 jets, so about an hour
of generation on 2 free cores, see ``benchmarks/results/generation.md``)::

    python benchmarks/taggers.py --generate 80000 --gen-seed 2020 --taggers bdt,cnn,pfn \
        --learning-curve 5625,11250,22500,45000 --out benchmarks/results/taggers_curve.md

Install the peer with ``pip install -c requirements/lock.txt -e ".[bench]"`` (the lessons do not need it).

energyflow 1.4.0 imports ``wasserstein`` 1.0.1 at the top level, whose compiled extension was built against NumPy 1
and fails to load under NumPy 2; the EMD code that needs it is not used here, so this script puts an empty module
in its place before importing energyflow (see ``_import_energyflow``).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mlmc_course.cluster import add_scheduler_argument
from mlmc_course.data.landscape import TopJets, jets_from_arrays, load_top, load_top_features
from mlmc_course.metrics.classification import LANDSCAPE_RESULTS, TaggerScore, auc, format_r30, score_tagger
from mlmc_course.models import taggers
from mlmc_course.representations import FEATURE_NAMES, jet_images, point_cloud
from mlmc_course.training import count_parameters

FEATURES = [n for n in FEATURE_NAMES if n != "eta"]
ALL = ("bdt", "dense", "cnn", "pfn", "attention", "pair-attention", "energyflow-pfn")


@dataclass
class Data:
    """Every representation of the train, validation and test jets."""

    labels: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    images: dict[str, np.ndarray]
    points: dict[str, tuple[np.ndarray, np.ndarray]]

    def first_train(self, n: int) -> Data:
        """The same data with only the first ``n`` training jets."""

        def cut(d: dict, s: str):
            v = d[s]
            return tuple(a[:n] for a in v) if isinstance(v, tuple) else v[:n]

        return Data(*({s: cut(d, s) if s == "train" else d[s] for s in d} for d in
                      (self.labels, self.features, self.images, self.points)))  # fmt: skip


@dataclass
class Row:
    score: TaggerScore
    library: str
    seconds: float
    epochs: str
    test_scores: np.ndarray


SPLIT_FRACTIONS = {"train": 0.625, "val": 0.125, "test": 0.25}  # as the shipped subset (scripts/make_top_subset.py)


def generated_splits(args) -> dict[str, TopJets]:
    """``--generate N``: N top and N QCD jets from the Dask generator (cached chunks), split per class by a seeded
    permutation into SPLIT_FRACTIONS, each split shuffled; records the generation cost in ``args.generation``."""
    from mlmc_course.data import jets as generator

    arrays, run = generator.generate_run(
        args.generate, args.gen_seed, workers=args.gen_workers, scheduler=args.scheduler
    )
    args.generation = (
        f"{2 * args.generate} jets generated with mlmc_course.data.jets (seed {args.gen_seed}) on Dask: "
        f"{run.computed} chunks computed in {run.wall_s:.0f} s"
        + (f" ({run.per_1000():.1f} s per 1000 jets per worker)" if run.computed else "")
        + f", {run.on_disk} chunks from the cache"
    )
    everything = jets_from_arrays(arrays, source=f"generated: n_per_class={args.generate} seed={args.gen_seed}")
    rng = np.random.default_rng(args.gen_seed)
    parts: dict[str, list[np.ndarray]] = {s: [] for s in SPLIT_FRACTIONS}
    for label in (1, 0):
        idx = rng.permutation(np.flatnonzero(everything.labels == label))
        n_train = int(round(SPLIT_FRACTIONS["train"] * len(idx)))
        n_val = int(round(SPLIT_FRACTIONS["val"] * len(idx)))
        parts["train"].append(idx[:n_train])
        parts["val"].append(idx[n_train : n_train + n_val])
        parts["test"].append(idx[n_train + n_val :])
    return {s: everything.take(rng.permutation(np.concatenate(p))) for s, p in parts.items()}


def load(args) -> Data:
    source = "landscape" if args.full else "subset"
    n = {"train": args.n_train, "val": args.n_val, "test": args.n_test}
    if args.generate:
        jets = {s: j.take(slice(n[s])) for s, j in generated_splits(args).items()}
    else:
        jets: dict[str, TopJets] = {s: load_top(s, source=source, n=n[s]) for s in n}
    if args.full or args.generate:
        features = {s: j.features(FEATURES) for s, j in jets.items()}
    else:
        features = {s: load_top_features(s, n=n[s], names=FEATURES)[0] for s in n}
    return Data(
        labels={s: j.labels for s, j in jets.items()},
        features={s: np.column_stack([features[s][k] for k in FEATURES]) for s in n},
        images={
            s: jet_images(j.pt, j.eta, j.phi, j.mask, size=args.image_size, half_width=args.image_half_width)
            for s, j in jets.items()
        },
        points={s: point_cloud(j.pt, j.eta, j.phi, j.mask, n_max=args.n_points) for s, j in jets.items()},
    )


def _torch_tagger(name: str, data: Data, args) -> tuple[torch.nn.Module, Callable[[str], object]]:
    torch.manual_seed(args.seed)
    x = data.features["train"]
    mean, std = taggers.point_stats(*data.points["train"])
    n_att = args.n_points_attention

    def att_points(s: str) -> tuple[np.ndarray, np.ndarray]:
        points, mask = data.points[s]
        return points[:, :n_att], mask[:, :n_att]

    models = {
        "dense": (lambda: taggers.DenseTagger(x.mean(0), x.std(0), hidden=(64, 64)), lambda s: data.features[s]),
        "cnn": (lambda: taggers.CNNTagger(size=args.image_size, channels=8, hidden=64), lambda s: data.images[s]),
        "pfn": (
            lambda: taggers.ParticleFlowNetwork(3, (64, 64), 64, (64, 64), mean=mean, std=std),
            lambda s: data.points[s],
        ),
        "attention": (
            lambda: taggers.AttentionTagger(3, dim=32, heads=4, layers=2, hidden=64, mean=mean, std=std),
            att_points,
        ),
        "pair-attention": (
            lambda: taggers.PairAttentionTagger(3, dim=32, heads=4, layers=2, hidden=64, mean=mean, std=std),
            att_points,
        ),
    }
    make, inputs = models[name]
    return make(), inputs


def run_torch(name: str, data: Data, args, device) -> Row:
    model, inputs = _torch_tagger(name, data, args)
    start = time.perf_counter()
    history = taggers.train_tagger(
        model,
        inputs("train"),
        data.labels["train"],
        val=(inputs("val"), data.labels["val"]),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule=args.schedule,
        device=device,
        seed=args.seed,
        patience=args.patience,
        progress=False,
    )
    seconds = time.perf_counter() - start
    scores = taggers.predict(model, inputs("test"), device=device)
    score = score_tagger(name, scores, data.labels["test"], n_params=count_parameters(model), n_boot=args.n_boot)
    return Row(score, "mlmc_course (torch)", seconds, f"{len(history.train)} (best {history.best_epoch})", scores)


def run_bdt(data: Data, args) -> Row:
    import xgboost as xgb

    bdt = xgb.XGBClassifier(
        n_estimators=2000, max_depth=3, learning_rate=0.1, subsample=0.8, early_stopping_rounds=50,
        eval_metric="logloss", n_jobs=args.threads or os.cpu_count(), random_state=args.seed,
    )  # fmt: skip
    start = time.perf_counter()
    bdt.fit(data.features["train"], data.labels["train"], eval_set=[(data.features["val"], data.labels["val"])],
            verbose=False)  # fmt: skip
    seconds = time.perf_counter() - start
    scores = bdt.predict_proba(data.features["test"])[:, 1]
    score = score_tagger("BDT", scores, data.labels["test"], n_params=None, n_boot=args.n_boot)
    return Row(score, f"xgboost {xgb.__version__}", seconds, f"{bdt.best_iteration + 1} trees", scores)


def _import_energyflow():
    """Import energyflow's Keras architectures; see the module docstring for why ``wasserstein`` is replaced."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import wasserstein  # noqa: F401
    except (ImportError, AttributeError):
        sys.modules["wasserstein"] = types.ModuleType("wasserstein")
    import energyflow
    from energyflow.archs import PFN

    return energyflow, PFN


def run_energyflow_pfn(data: Data, args) -> Row:
    energyflow, PFN = _import_energyflow()  # noqa: N806
    import tensorflow as tf
    from tf_keras.callbacks import EarlyStopping, LearningRateScheduler
    from tf_keras.optimizers import Adam

    tf.random.set_seed(args.seed)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    # The same standardised inputs as our taggers; padded rows stay exactly zero, which energyflow masks.
    mean, std = taggers.point_stats(*data.points["train"])
    x = {s: np.where(m[..., None], (p - mean) / std, 0.0).astype(np.float32) for s, (p, m) in data.points.items()}
    y = {s: np.eye(2, dtype=np.float32)[data.labels[s]] for s in data.labels}
    pfn = PFN(
        input_dim=3, Phi_sizes=(64, 64, 64), F_sizes=(64, 64), optimizer=Adam(learning_rate=args.lr), summary=False
    )
    stop = EarlyStopping(patience=args.patience or args.epochs, restore_best_weights=True)
    callbacks = [stop]
    if args.schedule == "cosine":  # the same per-epoch cosine as torch's CosineAnnealingLR in our fit
        callbacks.append(LearningRateScheduler(lambda e: args.lr * 0.5 * (1 + math.cos(math.pi * e / args.epochs))))
    start = time.perf_counter()
    history = pfn.fit(
        x["train"], y["train"], epochs=args.epochs, batch_size=args.batch_size, validation_data=(x["val"], y["val"]),
        callbacks=callbacks, verbose=0,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    scores = pfn.predict(x["test"], batch_size=2048, verbose=0)[:, 1]
    score = score_tagger("pfn", scores, data.labels["test"], n_params=pfn.model.count_params(), n_boot=args.n_boot)
    best = int(np.argmin(history.history["val_loss"])) + 1
    return Row(score, f"energyflow {energyflow.__version__} (Keras, TF {tf.__version__})", seconds,
               f"{len(history.history['loss'])} (best {best})", scores)  # fmt: skip


def auc_difference(scores: np.ndarray, reference: np.ndarray, labels: np.ndarray, n_boot: int, seed: int = 0):
    """AUC(scores) - AUC(reference) on the same test jets, with a paired bootstrap error (much smaller than the
    errors of the two AUCs added in quadrature, because both taggers see the same fluctuations of the test set)."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(labels), len(labels))
        diffs.append(auc(scores[idx], labels[idx]) - auc(reference[idx], labels[idx]))
    return auc(scores, labels) - auc(reference, labels), float(np.std(diffs, ddof=1))


def table(rows: list[Row], labels: np.ndarray, n_boot: int) -> str:
    ref = rows[0]
    lines = [
        f"| tagger | library | AUC | AUC - AUC({ref.score.name}) | R30 | parameters | training time [s] | epochs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r.score
        params = "-" if s.n_params is None else f"{s.n_params / 1e3:.3g}k"
        diff = (
            ""
            if r is ref
            else "{:+.4f} ± {:.4f}".format(*auc_difference(r.test_scores, ref.test_scores, labels, n_boot))
        )
        lines.append(
            f"| {s.name} | {r.library} | {s.auc.value:.4f} ± {s.auc.error:.4f} | {diff} "
            f"| {format_r30(s.r30, s.n_background)} | {params} | {r.seconds:.0f} | {r.epochs} |"
        )
    for name, (a, r30, n) in LANDSCAPE_RESULTS.items():
        lines.append(
            f"| {name} | paper, Delphes level, 1.2M training jets | {a:.4f} | | {r30:.0f} | {n / 1e3:.3g}k | | |"
        )
    return "\n".join(lines)


def run_all(chosen: list[str], data: Data, args, device) -> list[Row]:
    rows = []
    for name in chosen:
        if name == "bdt":
            rows.append(run_bdt(data, args))
        elif name == "energyflow-pfn":
            rows.append(run_energyflow_pfn(data, args))
        else:
            rows.append(run_torch(name, data, args, device))
        r = rows[-1]
        print(f"{name}: AUC {r.score.auc}, R30 {r.score.r30}, {r.seconds:.0f} s", flush=True)
    return rows


def learning_curve_table(curve: dict[int, list[Row]]) -> str:
    sizes = sorted(curve)
    lines = ["| tagger | " + " | ".join(f"{n} jets" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    for i, r in enumerate(curve[sizes[-1]]):
        cells = [f"{curve[n][i].score.auc.value:.4f} ± {curve[n][i].score.auc.error:.4f}" for n in sizes]
        lines.append(f"| {r.score.name} ({r.library.split()[0]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine(device) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if device.type == "cuda" else ""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores{gpu}; torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads; load average at the end (1, 5, 15 min): {load}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="the public landscape files instead of the shipped subset")
    p.add_argument("--n-train", type=int, default=None, help="training jets (default: all)")
    p.add_argument("--n-val", type=int, default=None, help="validation jets (default: all)")
    p.add_argument("--n-test", type=int, default=None, help="test jets (default: all)")
    p.add_argument("--taggers", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=None, help="early stopping on the validation loss (default: off)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--schedule", choices=("constant", "cosine"), default="cosine", help="learning-rate schedule")
    p.add_argument("--image-size", type=int, default=40)
    p.add_argument("--image-half-width", type=float, default=0.8, help="images cover +-this in eta and phi")
    p.add_argument("--n-points", type=int, default=128, help="constituents per jet for the particle-flow networks")
    p.add_argument("--n-points-attention", type=int, default=64, help="constituents per jet for attention (n^2 cost)")
    p.add_argument(
        "--learning-curve",
        default="",
        help="comma-separated smaller numbers of training jets to add (up to the training set's size)",
    )
    p.add_argument(
        "--generate",
        type=int,
        default=None,
        metavar="N",
        help="N top and N QCD jets from the generator on Dask instead of the shipped subset (cached chunks)",
    )
    p.add_argument("--gen-seed", type=int, default=2020, help="generator seed for --generate (shipped subset: 2019)")
    p.add_argument("--gen-workers", type=int, default=None, help="local Dask workers for --generate (default: cores)")
    add_scheduler_argument(p)
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch, TF and xgboost (default: all)")
    p.add_argument("--out", default=None, help="also write the table, command and machine to this markdown file")
    args = p.parse_args(argv)
    chosen = [t.strip() for t in args.taggers.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in ALL]
    if unknown:
        p.error(f"unknown tagger(s) {unknown}; choose from {ALL}")
    if args.full and args.generate:
        p.error("--full and --generate are two different data sets: choose one")
    if args.generate is not None and args.generate < 1:
        p.error(f"--generate must be a positive number of jets per class, got {args.generate}")
    try:
        sizes = sorted({int(x) for x in args.learning_curve.split(",") if x.strip()})
    except ValueError:
        p.error(f"--learning-curve takes comma-separated numbers of training jets, got {args.learning_curve!r}")
    if any(n < 1 for n in sizes):
        p.error(f"--learning-curve sizes must be positive, got {sizes}")
    args.generation = None
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    data = load(args)
    print(
        f"data: {', '.join(f'{s} {len(y)}' for s, y in data.labels.items())} jets ({time.perf_counter() - start:.0f} s)"
    )
    n_train = len(data.labels["train"])
    too_big = [n for n in sizes if n >= n_train]
    if too_big:
        more = "; generate more with --generate N (0.625 * 2N training jets)" if not args.full else ""
        p.error(f"--learning-curve sizes {too_big} are not below the {n_train} training jets{more}")
    rows = run_all(chosen, data, args, device)
    curve = {}
    for n in sizes:
        print(f"learning curve: {n} training jets", flush=True)
        curve[n] = run_all(chosen, data.first_train(n), args, device)
    curve[len(data.labels["train"])] = rows
    command = "python benchmarks/taggers.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    data_name = "public landscape data" if args.full else "the shipped particle-level subset"
    if args.generate:
        data_name = f"{2 * args.generate} freshly generated particle-level jets"
    text = (
        f"# Top taggers: {data_name}\n\n"
        f"Command: `{command}`  \nDate: {datetime.date.today()}  \nMachine: {machine(device)}  \n"
        + (f"Generation: {args.generation}  \n" if args.generation else "")
        + f"Jets: {', '.join(f'{s} {len(y)}' for s, y in data.labels.items())}; errors are bootstrap standard "
        f"deviations over the test set ({args.n_boot} resamples).\n\n"
        f"{table(rows, data.labels['test'], args.n_boot)}\n"
    )
    if len(curve) > 1:
        text += f"\n## AUC against the number of training jets\n\n{learning_curve_table(curve)}\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
