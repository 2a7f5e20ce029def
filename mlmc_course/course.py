"""The course map: every lesson, its time estimate, the seeds it draws on, and whether it is written yet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LessonInfo:
    """One row of the course map."""

    number: str
    stem: str
    title: str
    minutes: int
    topics: str


LESSONS: tuple[LessonInfo, ...] = (
    LessonInfo("00", "00_start", "Start here", 20, "running the course, modes, checks, GPU detection"),
    LessonInfo(
        "01",
        "01_regression",
        "Regression, losses and autodiff",
        75,
        "MSE from a likelihood, MAE, preprocessing, over/under-fitting, L2 and dropout, forward and reverse autodiff",
    ),
    LessonInfo(
        "02",
        "02_classification",
        "Classification and the likelihood ratio",
        75,
        "BCE from KL, Neyman-Pearson, s/(1-s) as the likelihood ratio, ROC and AUC, calibration",
    ),
    LessonInfo("03", "03_trees", "Trees and boosted decision trees", 75, "Gini splits, random forests, xgboost"),
    LessonInfo("04", "04_taggers", "Deep top taggers", 90, "dense, CNN, particle-flow and attention taggers"),
    LessonInfo(
        "05",
        "05_uncertainties",
        "Uncertainties: ensembles and Bayesian networks",
        75,
        "aleatoric and epistemic errors, coverage",
    ),
    LessonInfo("06", "06_gans_vaes", "GANs and VAEs", 75, "adversarial training, the ELBO, mode collapse"),
    LessonInfo("07", "07_flows", "Normalizing flows", 90, "change of variables, coupling blocks, splines"),
    LessonInfo("08", "08_diffusion", "Diffusion and flow matching", 75, "denoising, ODE samplers, comparison"),
    LessonInfo("09", "09_nis", "Neural importance sampling (MadNIS)", 90, "VEGAS, flow sampling, multi-channel"),
    LessonInfo("10", "10_surrogates", "Matrix-element surrogates", 75, "weighted losses, k-factors, ONNX"),
    LessonInfo("11", "11_pdfs", "PDFs the NNPDF way", 75, "preprocessing, sum rules, replicas"),
    LessonInfo("12", "12_hadronization", "Hadronization and detector surrogates", 90, "Lund fragmentation flows"),
    LessonInfo("13", "13_reweighting", "Reweighting MC to data", 75, "classifier weights, OmniFold"),
    LessonInfo("14", "14_dctr", "DCTR: tuning a generator with a classifier", 90, "parameterised classifiers"),
    LessonInfo("15", "15_optimal_transport", "Optimal transport", 75, "quantile matching, Sinkhorn, ICNN maps"),
    LessonInfo("16", "16_sbi", "Simulation-based inference", 90, "CARL, ROLR, RASCAL, limits"),
)


def find_root(start: Path | None = None, marker: str = "lessons") -> Path:
    """The course's root: the nearest folder above ``start`` (default: here) holding ``marker`` (``lessons/``;
    ``notebooks/`` also finds a students' release, which has no lesson sources)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / marker).is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    package_root = Path(__file__).resolve().parents[1]
    if (package_root / marker).is_dir():
        return package_root
    raise FileNotFoundError(
        f"no mlmc-course checkout found above {here}; run this from the course folder (the one with {marker}/)"
    )


def available(root: Path | None = None) -> list[LessonInfo]:
    """The lessons whose student notebook exists in this checkout (or release)."""
    root = root or find_root(marker="notebooks")
    return [info for info in LESSONS if (root / "notebooks" / f"{info.stem}.ipynb").exists()]


def course_map_markdown(root: Path | None = None) -> str:
    """The course map as a markdown table (written lessons link to their notebooks)."""
    have = {info.stem for info in available(root)}
    rows = ["| # | lesson | minutes | topics |", "|---|---|---|---|"]
    for info in LESSONS:
        title = f"[{info.title}]({info.stem}.ipynb)" if info.stem in have else f"{info.title} (in preparation)"
        rows.append(f"| {info.number} | {title} | {info.minutes} | {info.topics} |")
    return "\n".join(rows)
