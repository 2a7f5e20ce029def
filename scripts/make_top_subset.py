"""Make the shipped top-tagging subset: data/top/top_{train,val,test}.npz, registered in data/manifest.json.

The exact command that made the shipped files (2 CPU cores, about 25 minutes):

    python scripts/make_top_subset.py --n 20000 --seed 2019 --workers 2

It generates n top and n QCD jets with mlmc_course.data.jets (Pythia 8 + FastJet, landscape recipe at particle level;
the raw sample is kept in the cache folder so that a second run only redoes the split), then splits each class at
random (seeded) into train/val/test, shuffles each split and writes it in the course's compact format, together
with the high-level features of every jet (``feature_<name>``, float32, computed with
mlmc_course.representations.jet_features), so that lessons need not recompute N-subjettiness.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from mlmc_course.cluster import add_scheduler_argument
from mlmc_course.data import jets
from mlmc_course.data.landscape import read_jets, read_provenance, write_jets
from mlmc_course.data.store import cache_dir, data_dir, read_verified, write_manifest_entry, write_verified

PER_JET = ("labels", "jet_pt", "jet_eta", "jet_phi", "jet_mass", "truth_p4", "n_constituents", "gen_index")
PER_CONSTITUENT = ("ptfrac", "deta", "dphi")
FRACTIONS = {"train": 0.625, "val": 0.125, "test": 0.25}


def select(arrays: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """The jets at ``index`` (in that order), constituents included."""
    counts = arrays["n_constituents"].astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat = np.concatenate([np.arange(starts[i], starts[i] + counts[i]) for i in index])
    out = {k: arrays[k][index] for k in PER_JET}
    out.update({k: arrays[k][flat] for k in PER_CONSTITUENT})
    return out


def split_indices(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Per class a seeded permutation cut into train/val/test by FRACTIONS; each split shuffled again."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {s: [] for s in FRACTIONS}
    for label in (jets.SIGNAL, jets.BACKGROUND):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_train = int(round(FRACTIONS["train"] * len(idx)))
        n_val = int(round(FRACTIONS["val"] * len(idx)))
        parts["train"].append(idx[:n_train])
        parts["val"].append(idx[n_train : n_train + n_val])
        parts["test"].append(idx[n_train + n_val :])
    return {s: rng.permutation(np.concatenate(p)) for s, p in parts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="jets per class")
    parser.add_argument("--seed", type=int, required=True, help="generator and split seed")
    parser.add_argument("--workers", type=int, default=None, help="local Dask workers (default: one per core)")
    add_scheduler_argument(parser)
    args = parser.parse_args(argv)
    command = "python scripts/make_top_subset.py " + shlex.join(sys.argv[1:] if argv is None else argv)

    raw_path = cache_dir() / "top" / f"top_n{args.n}_seed{args.seed}.npz"
    prov = jets.provenance(args.n, args.seed)
    same = ("generator", "n_per_class", "seed", "chunk", "recipe")
    wanted = PER_JET + PER_CONSTITUENT + ("n_events",)

    def read_raw(path: Path) -> dict[str, np.ndarray] | None:
        if any(read_provenance(path)[k] != json.loads(prov)[k] for k in same):
            return None
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in wanted}

    arrays = read_verified(raw_path, read_raw, what="raw jet sample")
    if arrays is None:  # the generator's own chunk cache makes a re-run resume
        made = jets.generate(args.n, args.seed, workers=args.workers, scheduler=args.scheduler)
        write_verified(raw_path, lambda f: write_jets(f, made, prov))
        arrays = {k: made[k] for k in wanted}
    print(f"{len(arrays['labels'])} jets from {int(arrays['n_events'])} events in {raw_path}")

    features = read_jets(raw_path).features()
    out_dir = data_dir() / "top"
    for split, index in split_indices(arrays["labels"], args.seed).items():
        chosen = select(arrays, index)
        chosen.update({f"feature_{k}": v[index].astype(np.float32) for k, v in features.items()})
        path = write_jets(out_dir / f"top_{split}.npz", chosen, prov)
        n_top = int(arrays["labels"][index].sum())
        entry = write_manifest_entry(
            Path(path),
            f"top tagging subset, {split} split: {n_top} top and {len(index) - n_top} QCD jets, Pythia 8 + FastJet "
            "particle level (landscape recipe), constituents as float16 (pT/pT_jet, deta, dphi), jet features "
            "as float32",
            command,
        )
        print(f"{entry.name}: {len(index)} jets, {entry.bytes / 1e6:.2f} MB, sha256 {entry.sha256[:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
