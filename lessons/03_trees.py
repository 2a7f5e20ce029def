# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[20, 30]
# # 03 · Trees and boosted decision trees
#
# A top quark with a transverse momentum of 600 GeV decays, $t \to b W \to b q \bar q'$, into three quarks so
# collimated that one large jet catches them all. A light-quark or gluon jet of the same momentum has one hard
# core. Telling the two apart, **top tagging**, is the field's standard benchmark for classifiers. Before the deep
# networks of lesson 04, this lesson does it the way analyses did for a decade and still often do: with a few
# physics-motivated jet features and **boosted decision trees** (BDTs).
#
# **You will**
# - find the best cut of a decision tree by hand, with the Gini impurity and with the entropy;
# - draw bootstrap samples and see why bagging (random forests) tames deep trees;
# - derive what each boosting step fits, and train a BDT with xgboost;
# - measure taggers as the field does: ROC curves, AUC and the background rejection $R_{30}$, with errors;
# - read feature importances and find overfitting in the tree depth and the number of trees.
#
# **Prerequisites:** lesson 02 (ROC curves, AUC, the likelihood ratio); what a jet is.
# **Time:** about 75 minutes.
# **Sources:** the 2025 lecture "Machine Learning and MC Generators" (decision trees, bagging, boosting) and the
# ML4HEP lecture "Modern ML methods in HEP" (top tagging, the landscape data, $R_{30}$). Papers: G. Kasieczka,
# T. Plehn et al., *The machine learning landscape of top taggers*,
# [arXiv:1902.09914](https://arxiv.org/abs/1902.09914); J. Thaler and K. Van Tilburg, *Identifying boosted objects
# with N-subjettiness*, [arXiv:1011.2268](https://arxiv.org/abs/1011.2268); T. Chen and C. Guestrin, *XGBoost*,
# [arXiv:1603.02754](https://arxiv.org/abs/1603.02754).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np

import mlmc_course
from mlmc_course.checks import l03_trees as checks

cfg = mlmc_course.setup(MODE)

# %%
n_train = cfg.pick(ci=3_000, lecture=20_000, full=22_500)  # training jets (validation and test: the full splits)
n_forest = cfg.pick(ci=20, lecture=50, full=300)  # trees in the random forest
n_trees = cfg.pick(ci=300, lecture=600, full=2_000)  # at most, for the BDT with early stopping
n_depth_trees = cfg.pick(ci=50, lecture=200, full=600)  # for each BDT of the depth comparison
n_boot = cfg.pick(ci=20, lecture=50, full=200)  # bootstrap resamples for the errors of AUC and R30
print(f"{n_train} training jets; forest {n_forest} trees, BDT up to {n_trees} trees, {n_boot} bootstrap resamples")

# %% [markdown]
# ## The data: top jets and QCD jets
#
# The course ships a small top-tagging set made with the recipe of the landscape paper: Pythia 8 at 14 TeV,
# $t\bar t$ with hadronic decays as signal and QCD dijets as background, anti-$k_T$ jets with $R = 0.8$,
# $550 < p_T < 650$ GeV, $|\eta| < 2$, signal jets matched to a top and its three decay quarks. Unlike the public
# data it has **no detector simulation** (the jets are made of the stable particles themselves) and it is small;
# lesson 04 lists every difference. (`mlmc-course data generate top --n N` makes more with the same code.)
#
# Each jet comes with high-level features computed once when the set was made
# (`mlmc_course.representations.jet_features`):
#
# - the jet mass $m_J$: near $m_t \approx 173$ GeV for top jets, spread to low masses for QCD;
# - the number of constituents;
# - **N-subjettiness** $\tau_N = \frac{1}{\sum_i p_{T,i} R_0}\sum_i p_{T,i} \min_k \Delta R_{ik}$: how well the
#   constituents $i$ line up with $N$ subjet axes $k$. A jet with three hard prongs has a small $\tau_3$ but a large
#   $\tau_2$, so the ratio $\tau_{32} = \tau_3/\tau_2$ is small for tops; $\tau_{21}$ does the same for two prongs.

# %%
from mlmc_course.data.landscape import load_top_features
from mlmc_course.representations import FEATURE_LABELS

names = ["mass", "pt", "multiplicity", "width", "ptd", "tau1", "tau2", "tau3", "tau4", "tau21", "tau32"]
train_f, y_train = load_top_features("train", n=n_train, names=names)
val_f, y_val = load_top_features("val", names=names)
test_f, y_test = load_top_features("test", names=names)
X_train, X_val, X_test = (np.column_stack([f[k] for k in names]) for f in (train_f, val_f, test_f))
print(f"train {len(y_train)}, validation {len(y_val)}, test {len(y_test)} jets; top fraction {y_train.mean():.2f}")

# %%
import matplotlib.pyplot as plt

from mlmc_course.plotting import compare_hist

fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
panels = [
    ("mass", np.linspace(0, 400, 81), "jets per GeV"),
    ("tau32", np.linspace(0, 1.3, 53), "jets per unit"),
    ("tau21", np.linspace(0, 1.4, 57), "jets per unit"),
    ("multiplicity", np.arange(0, 201, 5), "jets per constituent"),
]
for ax, (name, bins, per) in zip(axes, panels, strict=True):
    compare_hist(
        {"QCD": train_f[name][y_train == 0], "top": train_f[name][y_train == 1]}, bins, ratio=False,
        axes=(ax, None), xlabel=FEATURE_LABELS[name], ylabel=f"normalised {per}",
    )  # fmt: skip
plt.show()
# %% [markdown]
# QCD is drawn filled with its statistical band, top as a line with error bars; the legends give the share of jets
# outside the plotted range where there are any.
#
# What to see: top jets peak near the top mass (a little below 173 GeV: radiation leaks out of the jet, and the
# constituents are stored as massless), with a tail to high masses from extra radiation caught in the jet. QCD jets
# get their mass from gluon radiation: a broad spectrum that falls towards high masses. $\tau_{32}$ is smaller for
# tops (three prongs), and top jets have more constituents (three quarks radiate more than one). No single feature
# separates the classes: combinations of cuts can do better, and that is what a tree finds.
#
# How good is each feature alone? The AUC of a feature used as the score (flipped where smaller means more top-like):

# %%
from mlmc_course.metrics import auc

single_auc = {}
for k in names:
    a = auc(test_f[k], y_test)
    single_auc[k] = max(a, 1 - a)
    print(f"{k:>13s}: AUC {single_auc[k]:.3f}" + ("  (smaller is more top-like)" if a < 0.5 else ""))

# %% tags=["claim"]
from mlmc_course.claims import claim

is_top, is_qcd = y_train == 1, y_train == 0
counts, edges = np.histogram(train_f["mass"][is_top], bins=np.linspace(0, 400, 81))
top_peak = 0.5 * (edges[counts.argmax()] + edges[counts.argmax() + 1])
claim("top jets peak a little below 173 GeV", 150 < top_peak < 173, peak=top_peak)
medians = {k: (np.median(train_f[k][is_top]), np.median(train_f[k][is_qcd])) for k in ("tau32", "multiplicity")}
claim(
    "tau32 is smaller for tops",
    medians["tau32"][0] < medians["tau32"][1] - 0.2,
    top=medians["tau32"][0],
    qcd=medians["tau32"][1],
)
claim(
    "top jets have more constituents",
    medians["multiplicity"][0] > medians["multiplicity"][1],
    top=medians["multiplicity"][0],
    qcd=medians["multiplicity"][1],
)
claim("no single feature separates the classes", max(single_auc.values()) < 0.97, best=max(single_auc.values()))

# %% [markdown]
# ## A decision tree, one cut at a time
#
# A decision tree cuts the feature space greedily. In a node with $N$ jets it tries every feature $i$ and every
# threshold $\theta$, sends the $N_L$ jets with $x_i \le \theta$ left and the $N_R$ others right, and keeps the cut
# that makes the children purest on average:
# $$ G(\theta, i) = \frac{N_L}{N} H(\text{left}) + \frac{N_R}{N} H(\text{right}). $$
# $H$ is an *impurity*, zero for a node of one class and largest for an even mix. With $p$ the fraction of top
# jets in the node, the two common choices are
# $$ H_\text{Gini} = 1 - \sum_k p_k^2 = 2p(1-p), \qquad H_\text{entropy} = -\sum_k p_k \ln p_k . $$
# The weights $N_L/N$ and $N_R/N$ matter: without them, a cut that splits off a single jet into a perfectly pure
# node would look excellent. The tree then repeats the search in each child, down to a maximal depth.

# %% [markdown] tags=["question"] name="best_split" points=2
# **Exercise 1.** Write `best_split(x, y, impurity)`: `x` is one feature of shape `(n,)`, `y` the labels (0 or 1)
# of shape `(n,)`, and `impurity(labels)` a function that returns the impurity of a node from its labels (the
# check passes a Gini and an entropy). Try every cut between neighbouring sorted values, with the points
# `x <= threshold` going left, and return the tuple `(threshold, weighted_impurity)` of the cut with the smallest
# $G$.


# %% tags=["solution"]
def best_split(x: np.ndarray, y: np.ndarray, impurity) -> tuple[float, float]:
    """Best cut x <= threshold on one feature; returns (threshold, N_L/N H(left) + N_R/N H(right))."""
    # BEGIN SOLUTION
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    n = len(xs)
    best_t, best_g = None, np.inf
    for k in range(1, n):
        if xs[k] == xs[k - 1]:
            continue
        g = k / n * impurity(ys[:k]) + (n - k) / n * impurity(ys[k:])
        if g < best_g:
            best_t, best_g = 0.5 * (xs[k - 1] + xs[k]), g
    return best_t, best_g
    # END SOLUTION
    # HINT: sort by x; for each k the first k points go left; G = k/n * impurity(left) + (n-k)/n * impurity(right).


# %% tags=["wrong"]
# WRONG: adds the children's impurities without weighting them by their share of the points
# EXPECT: your split minimises H(left) + H(right)
def best_split(x, y, impurity):
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    scores = [impurity(ys[:k]) + impurity(ys[k:]) for k in range(1, len(xs))]
    k = int(np.argmin(scores)) + 1
    return 0.5 * (xs[k - 1] + xs[k]), scores[k - 1]


# %% tags=["wrong"]
# WRONG: weights each child's impurity with the other child's share (the wrong node weights)
# EXPECT: weights each child by the other child's share
def best_split(x, y, impurity):
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    n = len(xs)
    scores = [(n - k) / n * impurity(ys[:k]) + k / n * impurity(ys[k:]) for k in range(1, n)]
    k = int(np.argmin(scores)) + 1
    return 0.5 * (xs[k - 1] + xs[k]), scores[k - 1]


# %% tags=["wrong"]
# WRONG: maximises the weighted impurity instead of minimising it
# EXPECT: are you maximising instead of minimising
def best_split(x, y, impurity):
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    n = len(xs)
    scores = [k / n * impurity(ys[:k]) + (n - k) / n * impurity(ys[k:]) for k in range(1, n)]
    k = int(np.argmax(scores)) + 1
    return 0.5 * (xs[k - 1] + xs[k]), scores[k - 1]


# %% tags=["mutants"]
# EQUIVALENT L5:19 Constant 1->0: also trying k = 0 (an empty left child) adds a candidate that scores the parent's
#   impurity, which is never below the best real cut (the impurity is concave); for a pure node, where they tie, the
#   threshold it returns still makes a real cut with the same score
# EQUIVALENT L9:11 Lt->LtE: keeps the last of equally good cuts instead of the first: either is a best split

# %% tags=["check"]
checks.best_split(best_split)

# %% tags=["check", "hidden"]
checks.best_split(best_split, seed=31)

# %% [markdown]
# scikit-learn's `DecisionTreeClassifier` runs the same search over all features at once. A tree of depth two on
# our features: each box shows the cut, the Gini impurity, the number of jets and the class counts [QCD, top].

# %%
from sklearn.tree import DecisionTreeClassifier, plot_tree

stump = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X_train, y_train)
fig, ax = plt.subplots(figsize=(12, 4.5))
plot_tree(stump, feature_names=names, class_names=["QCD", "top"], impurity=True, filled=True, ax=ax, fontsize=8)
plt.show()
# %% [markdown]
# ### Deep trees overfit
#
# A tree deep enough gives every training jet a leaf of its own: zero training error, and a poor guess on new
# jets. Decision trees have low bias and high variance. We grow trees of increasing depth and compare the AUC on
# the training set with the AUC on the validation set:

# %%
depths = list(range(1, 21, 2))
tree_auc = {"train": [], "validation": []}
for depth in depths:
    tree = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X_train, y_train)
    tree_auc["train"].append(auc(tree.predict_proba(X_train)[:, 1], y_train))
    tree_auc["validation"].append(auc(tree.predict_proba(X_val)[:, 1], y_val))

fig, ax = plt.subplots()
for key, values in tree_auc.items():
    ax.plot(depths, values, "o-", label=key)
ax.set_xlabel("maximal tree depth")
ax.set_ylabel("AUC")
ax.legend()
plt.show()

# %% [markdown]
# The training AUC climbs towards 1 while the validation AUC peaks at a moderate depth and then falls: the deep
# trees learn the statistical noise of the training sample.

# %% tags=["claim"]
best_depth = depths[int(np.argmax(tree_auc["validation"]))]
claim(
    "the training AUC climbs towards 1 while the validation AUC peaks at a moderate depth and then falls",
    tree_auc["train"][-1] > 0.99
    and depths[0] < best_depth < depths[-1]
    and tree_auc["validation"][-1] < max(tree_auc["validation"]) - 0.02,
    train_at_deepest=tree_auc["train"][-1],
    best_depth=best_depth,
    validation_best=max(tree_auc["validation"]),
    validation_deepest=tree_auc["validation"][-1],
)

# %% [markdown]
# ## Bagging: many trees on bootstrap samples
#
# Averaging $M$ models whose errors are independent divides the variance by $M$. We only have one training set, so
# **bagging** (bootstrap aggregating) makes $M$ new ones: each model sees $n$ jets drawn *with replacement* from the
# $n$ training jets. A jet is missed by one draw with probability $1 - 1/n$, by all $n$ draws with probability
# $(1 - 1/n)^n \to e^{-1}$, so each bootstrap sample holds about $1 - e^{-1} \approx 63\%$ of the distinct jets. The
# other 37% are "out of bag" and give a free validation set. A **random forest** adds one more source of variety:
# every cut considers only a random subset of the features.

# %% [markdown] tags=["question"] name="bootstrap_samples" points=1
# **Exercise 2.** Write `bootstrap_samples(n, n_models, rng)`: return an integer array of shape `(n_models, n)`
# whose row $m$ holds the indices of the training jets that model $m$ sees, drawn uniformly with replacement from
# `0 ... n-1` using the generator `rng`.


# %% tags=["solution"]
def bootstrap_samples(n: int, n_models: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (n_models, n) of n_models bootstrap samples of n events, drawn with replacement."""
    # BEGIN SOLUTION
    return rng.integers(0, n, size=(n_models, n))
    # END SOLUTION
    # HINT: rng.integers(0, n, size=...) draws with replacement; one row per model.


# %% tags=["wrong"]
# WRONG: permutes the events (draws without replacement), so every model sees the same jets
# EXPECT: that is a permutation (drawing without replacement)
def bootstrap_samples(n, n_models, rng):
    return np.stack([rng.permutation(n) for _ in range(n_models)])


# %% tags=["wrong"]
# WRONG: draws one bootstrap sample and gives it to every model
# EXPECT: some models got identical samples
def bootstrap_samples(n, n_models, rng):
    sample = rng.integers(0, n, size=n)
    return np.tile(sample, (n_models, 1))


# %% tags=["wrong"]
# WRONG: ignores the generator it is given, so the result is not reproducible
# EXPECT: draw from the rng argument, not np.random
def bootstrap_samples(n, n_models, rng):
    return np.random.randint(0, n, size=(n_models, n))  # noqa: NPY002


# %% tags=["check"]
checks.bootstrap_samples(bootstrap_samples)

# %% tags=["check", "hidden"]
checks.bootstrap_samples(bootstrap_samples, seed=32)

# %% [markdown]
# scikit-learn's `RandomForestClassifier` draws the bootstrap samples for us (`bootstrap=True`) and scores each jet
# with the trees that did not see it (`oob_score=True`). We compare one fully grown tree with a forest of fully
# grown trees:

# %%
from sklearn.ensemble import RandomForestClassifier

deep_tree = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
forest = RandomForestClassifier(
    n_estimators=n_forest, min_samples_leaf=5, oob_score=True, n_jobs=1, random_state=0
).fit(X_train, y_train)
auc_deep_tree = auc(deep_tree.predict_proba(X_val)[:, 1], y_val)
auc_forest = auc(forest.predict_proba(X_val)[:, 1], y_val)
print(f"one deep tree:       validation AUC {auc_deep_tree:.4f}")
print(f"forest of {n_forest:3d} trees: validation AUC {auc_forest:.4f}")
print(f"forest, out-of-bag accuracy {forest.oob_score_:.3f} (no validation set used)")

# %% [markdown]
# Averaging tames the deep trees: the forest's validation AUC is far above that of one fully grown tree, and above
# the best single tree of any depth in the plot above.

# %% tags=["claim"]
claim(
    "the forest's validation AUC is far above that of one fully grown tree, and above the best single tree",
    auc_forest > auc_deep_tree + 0.03 and auc_forest > max(tree_auc["validation"]),
    forest=auc_forest,
    deep_tree=auc_deep_tree,
    best_single_tree=max(tree_auc["validation"]),
)

# %% [markdown]
# ## Boosting: trees that correct each other
#
# Boosting builds the ensemble in sequence. The model after $m$ trees is a sum,
# $$ F_m(x) = F_{m-1}(x) + \eta\, h_m(x), $$
# with a learning rate $\eta$ and a small tree $h_m$ (a *weak learner*) chosen to reduce the loss of $F_{m-1}$.
# *Gradient* boosting fits $h_m$ to the negative gradient of the loss in the model's output, evaluated at each
# training jet: one step of gradient descent, taken in function space. For classification, $F$ is a raw score (a
# logit), the probability is $s = \sigma(F) = 1/(1 + e^{-F})$, and the loss is the binary cross-entropy of
# lesson 02,
# $$ L = -\left[y \ln \sigma(F) + (1 - y)\ln\left(1 - \sigma(F)\right)\right]. $$
# Using $\sigma'(F) = \sigma(F)\,(1-\sigma(F))$ you can work out $\partial L/\partial F$ in two lines. xgboost
# also uses the second derivative (a Newton step) and penalises large trees.

# %% [markdown] tags=["question"] name="boosting_residuals" points=2
# **Exercise 3.** Write `boosting_residuals(raw_score, y)`: given the current raw scores $F(x_i)$ and the labels
# $y_i$, both of shape `(n,)`, return the negative gradient $-\partial L/\partial F$ of the binary cross-entropy at
# every jet, shape `(n,)`: the targets that the next tree is fitted to.


# %% tags=["solution"]
def boosting_residuals(raw_score: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative gradient of the binary cross-entropy in the raw score F, for every event: shape (n,)."""
    # BEGIN SOLUTION
    return y - 1.0 / (1.0 + np.exp(-raw_score))
    # END SOLUTION
    # HINT: dL/dF = sigmoid(F) - y; the tree fits minus that.


# %% tags=["wrong"]
# WRONG: the residual of a squared error on the raw score, with no sigmoid
# EXPECT: you returned y - F
def boosting_residuals(raw_score, y):
    return y - raw_score


# %% tags=["wrong"]
# WRONG: the gradient itself, not the negative gradient
# EXPECT: you returned the gradient p - y
def boosting_residuals(raw_score, y):
    return 1.0 / (1.0 + np.exp(-raw_score)) - y


# %% tags=["check"]
checks.boosting_residuals(boosting_residuals)

# %% tags=["check", "hidden"]
checks.boosting_residuals(boosting_residuals, seed=33)

# %% [markdown]
# ### A BDT with xgboost
#
# We boost shallow trees (depth 3) with xgboost and watch the loss on the training and validation sets after each
# tree. Early stopping keeps the number of trees at which the validation loss was lowest. We ask for one thread
# (`n_jobs=1`): on a small or shared machine, more threads than free cores make xgboost slower, not faster.

# %%
import xgboost as xgb

bdt = xgb.XGBClassifier(
    n_estimators=n_trees,
    max_depth=3,
    learning_rate=0.1,
    subsample=0.8,
    eval_metric="logloss",
    early_stopping_rounds=50,
    n_jobs=1,
    random_state=0,
)
bdt.fit(X_train, y_train, eval_set=[(X_train, y_train), (X_val, y_val)], verbose=False)
history = bdt.evals_result()
print(f"best number of trees: {bdt.best_iteration + 1}")

# %%
from mlmc_course.plotting import loss_plot

ax = loss_plot(
    {"train": history["validation_0"]["logloss"], "validation": history["validation_1"]["logloss"]},
    ylabel="binary cross-entropy",
)
ax.set_xlabel("number of trees")
plt.show()
# %% [markdown]
# The training loss keeps falling with every tree; the validation loss flattens, and early stopping ended the
# training once fifty more trees had not lowered it: boosting overfits too, only more slowly with shallow trees and
# a small learning rate.

# %% tags=["claim"]
train_loss, val_loss = np.array(history["validation_0"]["logloss"]), np.array(history["validation_1"]["logloss"])
claim(
    "the training loss keeps falling with every tree",
    bool(np.all(np.diff(train_loss) < 1e-4)) and train_loss[-1] < val_loss[-1],
    last_train=train_loss[-1],
)
claim(
    "early stopping ended the training once fifty more trees had not lowered the validation loss",
    len(val_loss) < n_trees and len(val_loss) == bdt.best_iteration + 1 + 50 and val_loss[-1] >= val_loss.min(),
    trees_grown=len(val_loss),
    best=bdt.best_iteration + 1,
)

# %% [markdown]
# How does the depth of each tree change that? We compare depths 1, 3 and 8 at a fixed number of trees:

# %%
fig, ax = plt.subplots()
depth_loss = {}
for depth in (1, 3, 8):
    model = xgb.XGBClassifier(
        n_estimators=n_depth_trees, max_depth=depth, learning_rate=0.1, eval_metric="logloss", n_jobs=1, random_state=0
    ).fit(X_train, y_train, eval_set=[(X_train, y_train), (X_val, y_val)], verbose=False)
    res = model.evals_result()
    depth_loss[depth] = (np.array(res["validation_0"]["logloss"]), np.array(res["validation_1"]["logloss"]))
    (line,) = ax.plot(res["validation_1"]["logloss"], label=f"depth {depth}, validation")
    ax.plot(res["validation_0"]["logloss"], ls=":", color=line.get_color(), label=f"depth {depth}, train")
ax.set_xlabel("number of trees")
ax.set_ylabel("binary cross-entropy")
ax.set_yscale("log")
ax.legend(ncol=2, fontsize=8)
plt.show()

# %% [markdown]
# Stumps (depth 1) cannot combine features within a tree, so they learn slowly; depth 8 fits the training set
# fastest and opens the largest gap between training and validation.

# %% tags=["claim"]
gap = {d: val[-1] - tr[-1] for d, (tr, val) in depth_loss.items()}
claim(
    "stumps learn slowly: after all trees their validation loss is the highest",
    depth_loss[1][1][-1] > max(depth_loss[3][1][-1], depth_loss[8][1][-1]),
    **{f"validation_depth_{d}": val[-1] for d, (_, val) in depth_loss.items()},
)
claim(
    "depth 8 fits the training set fastest and opens the largest gap between training and validation",
    all(depth_loss[8][0][k] < min(depth_loss[1][0][k], depth_loss[3][0][k]) for k in (4, 9, -1))
    and gap[8] > max(gap[1], gap[3]),
    **{f"gap_depth_{d}": g for d, g in gap.items()},
)

# %% [markdown]
# ## Measuring a tagger: ROC, AUC and $R_{30}$
#
# A tagger's output $s$ becomes a decision by a cut $s > c$. Each cut keeps a fraction $\epsilon_S$ of the top jets
# (signal efficiency) and a fraction $\epsilon_B$ of the QCD jets (mistag rate); the ROC curve traces them over all
# cuts. The AUC summarises the whole curve. Analyses care about one working point, and the landscape paper quotes
# the **background rejection at 30% signal efficiency**,
# $$ R_{30} = \frac{1}{\epsilon_B(\epsilon_S = 0.3)} , $$
# the inverse of the fraction of QCD jets that still pass when 30% of top jets do. $R_{30} = 500$ means one QCD jet
# in 500 is mistaken for a top.

# %% [markdown] tags=["question"] name="r30" points=1
# **Exercise 4.** Write `r30(eff_s, eff_b)`: given a ROC curve as two arrays of shape `(n,)`, the signal efficiency
# `eff_s` (increasing) and the background efficiency `eff_b` at the same cuts, return $R_{30}$. The curve may have
# only a few points: interpolate $\epsilon_B$ linearly in $\epsilon_S$ to $\epsilon_S = 0.3$.


# %% tags=["solution"]
def r30(eff_s: np.ndarray, eff_b: np.ndarray) -> float:
    """Background rejection 1/eps_B at signal efficiency 0.3, from a ROC curve (eff_s increasing)."""
    # BEGIN SOLUTION
    return float(1.0 / np.interp(0.3, eff_s, eff_b))
    # END SOLUTION
    # HINT: np.interp(0.3, eff_s, eff_b) gives eps_B at eps_S = 0.3; R30 is its inverse.


# %% tags=["wrong"]
# WRONG: returns the background efficiency instead of its inverse
# EXPECT: you returned the background efficiency eps_B
def r30(eff_s, eff_b):
    return float(np.interp(0.3, eff_s, eff_b))


# %% tags=["wrong"]
# WRONG: inverts the signal efficiency, 1/eps_S
# EXPECT: you returned 1/eps_S
def r30(eff_s, eff_b):
    return 1.0 / 0.3


# %% tags=["wrong"]
# WRONG: takes the ROC point nearest to eps_S = 0.3 instead of interpolating
# EXPECT: interpolate eps_B linearly
def r30(eff_s, eff_b):
    return float(1.0 / eff_b[np.argmin(np.abs(eff_s - 0.3))])


# %% tags=["check"]
checks.r30(r30)

# %% tags=["check", "hidden"]
checks.r30(r30, seed=34)

# %% [markdown]
# The package has the same function, `mlmc_course.metrics.rejection_at(scores, labels, eff_s=0.3)`, and
# `score_tagger` adds bootstrap errors: the test set is resampled with replacement and the spread of the metric
# over the resamples is its statistical error. The test set has a few thousand QCD jets (printed at the start), and
# with $R_{30}$ in the hundreds only a handful of them pass the cut; $R_{30}$ then carries a large error. We compare
# cuts on single features with the three tree-based taggers:

# %%
from mlmc_course.metrics import roc_curve
from mlmc_course.metrics.classification import results_table, score_tagger
from mlmc_course.plotting import roc_plot

scores = {
    "mass (closer to 173 GeV)": -np.abs(test_f["mass"] - 173.0),
    "tau32 (smaller)": -test_f["tau32"],
    "decision tree (depth 8)": DecisionTreeClassifier(max_depth=8, random_state=0)
    .fit(X_train, y_train)
    .predict_proba(X_test)[:, 1],
    "random forest": forest.predict_proba(X_test)[:, 1],
    "BDT (xgboost)": bdt.predict_proba(X_test)[:, 1],
}
curves = {name: roc_curve(s, y_test)[:2] for name, s in scores.items()}
ax = roc_plot(curves, min_eff_s=0.1)  # below 10% a few QCD jets make the rejection jump
ax.axvline(0.3, ls=":", color="grey", label=r"$\epsilon_S = 0.3$ ($R_{30}$)")
ax.legend()
plt.show()
# %%
from IPython.display import Markdown

rows = [score_tagger(name, s, y_test, n_boot=n_boot) for name, s in scores.items()]
for row in rows:
    print(f"{row.name}: {row.n_background / row.r30.value:.0f} of {row.n_background} QCD jets pass at eps_S = 0.3")
Markdown(results_table(rows))

# %% [markdown]
# The BDT combines the features and beats every single cut in AUC; the forest comes close. The $R_{30}$ column shows how
# few QCD jets decide it: for the single cuts a few tens pass and the error is 15-30%; for the forest and the BDT fewer
# than ten pass, and the error is as large as $R_{30}$ itself. Rank these taggers by AUC. The landscape paper reports
# taggers on the public data, which went through a detector simulation that smears the very features used here: its
# taggers on the constituents (networks and energy-flow polynomials), trained on a million jets, reach AUCs of
# 0.980-0.985, below our BDT's at particle level. Lesson 04 puts our numbers and the paper's side by side and lists
# every difference.

# %% tags=["claim"]
by_name = {row.name: row for row in rows}
bdt_row, forest_row = by_name["BDT (xgboost)"], by_name["random forest"]
cuts = [by_name["mass (closer to 173 GeV)"], by_name["tau32 (smaller)"]]
claim(
    "the BDT beats every single cut in AUC; the forest comes close",
    all(bdt_row.auc.value - c.auc.value > 3 * c.auc.error for c in cuts)
    and abs(bdt_row.auc.value - forest_row.auc.value) < 0.005,
    bdt=bdt_row.auc.value,
    forest=forest_row.auc.value,
    best_cut=max(c.auc.value for c in cuts),
)
relative = {row.name: row.r30.error / row.r30.value for row in rows}
passing = {row.name: row.n_background / row.r30.value for row in rows}
claim(
    "for the single cuts a few tens of QCD jets pass; for the forest and the BDT fewer than ten",
    all(10 <= passing[c.name] < 100 for c in cuts) and max(passing["BDT (xgboost)"], passing["random forest"]) < 10,
    **{name.split(" ")[0]: n for name, n in passing.items()},
)
claim(
    "for the single cuts the R30 error is 15-30%",
    all(0.15 <= relative[c.name] <= 0.3 for c in cuts),
    **{c.name.split(" ")[0]: relative[c.name] for c in cuts},
)
claim(
    "for the forest and the BDT the R30 error is as large as R30 itself",
    min(relative["BDT (xgboost)"], relative["random forest"]) > 0.5,
    bdt=relative["BDT (xgboost)"],
    forest=relative["random forest"],
)
from mlmc_course.metrics.classification import LANDSCAPE_RESULTS

paper_aucs = [auc_value for auc_value, _, _ in LANDSCAPE_RESULTS.values()]
claim(
    "the paper's taggers on the constituents reach AUCs of 0.980-0.985, below our BDT's at particle level",
    0.980 <= min(paper_aucs) and max(paper_aucs) <= 0.985 and bdt_row.auc.value > max(paper_aucs),
    paper_lowest=min(paper_aucs),
    paper_highest=max(paper_aucs),
    ours=bdt_row.auc.value,
)

# %% [markdown]
# ### Which features does the BDT use?
#
# xgboost counts how much each feature's cuts reduced the loss ("gain"), summed over all trees. Features that are
# correlated (the mass, $\tau_1$ and the width all measure how spread out the jet is) share the credit, so read the
# ranking with care; a feature with small gain can still matter when its partners are removed.

# %%
gain = bdt.get_booster().get_score(importance_type="gain")
importance = np.array([gain.get(f"f{i}", 0.0) for i in range(len(names))])
order = np.argsort(importance)
fig, ax = plt.subplots(figsize=(6, 4))
ax.barh(np.array(names)[order], importance[order] / importance.sum())
ax.set_xlabel("share of the total gain")
plt.show()

# %% [markdown]
# ## Summary
#
# - A decision tree picks, node by node, the cut that minimises the weighted impurity
#   $\frac{N_L}{N}H_L + \frac{N_R}{N}H_R$ (Gini or entropy). Deep trees overfit.
# - Bagging averages trees trained on bootstrap samples (63% distinct events each); random forests also randomise
#   the features per cut. Both reduce variance.
# - Gradient boosting adds small trees fitted to the negative gradient of the loss, $y - \sigma(F)$ for the
#   cross-entropy; xgboost adds second-order steps and regularisation. Too many trees or too deep trees overfit:
#   watch the validation loss.
# - Top taggers are compared by AUC and $R_{30} = 1/\epsilon_B$ at $\epsilon_S = 0.3$, with bootstrap errors.
#   A BDT on mass and N-subjettiness is the baseline that the deep taggers of lesson 04 must beat.
#
# ## Further reading
#
# - G. Kasieczka, T. Plehn et al., *The machine learning landscape of top taggers*,
#   [arXiv:1902.09914](https://arxiv.org/abs/1902.09914).
# - J. Thaler and K. Van Tilburg, *Identifying boosted objects with N-subjettiness*,
#   [arXiv:1011.2268](https://arxiv.org/abs/1011.2268).
# - B. P. Roe et al., *Boosted decision trees as an alternative to artificial neural networks for particle
#   identification*, [arXiv:physics/0408124](https://arxiv.org/abs/physics/0408124).
# - T. Chen and C. Guestrin, *XGBoost: a scalable tree boosting system*,
#   [arXiv:1603.02754](https://arxiv.org/abs/1603.02754).
# - A. J. Larkoski, I. Moult and B. Nachman, *Jet substructure at the Large Hadron Collider*,
#   [arXiv:1709.04464](https://arxiv.org/abs/1709.04464).
