"""A small Keras classifier for reweighting (lesson 13 teaches it in TensorFlow, as the HSF lecture it draws on
does); TensorFlow is imported only when it is trained."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mlmc_course.reweight.weights import Classifier, _weights
from mlmc_course.validation import as_array, positive_int


@dataclass
class KerasClassifier:
    """A trained Keras network with its input standardisation; call ``predict(x)`` for P(class 1 | x)."""

    model: object
    mean: np.ndarray
    std: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)

    def predict(self, x, batch_size: int = 65_536) -> np.ndarray:
        """P(class 1 | x) for ``x`` of shape ``(n, n_features)``, clipped into (1e-6, 1 - 1e-6).

        Calls the model eagerly in large batches: ``model.predict`` would compile a new graph for every model.
        """
        x = as_array(x, "x", shape=(None, len(self.mean)))
        z = ((x - self.mean) / self.std).astype(np.float32)
        parts = [np.asarray(self.model(z[i : i + batch_size], training=False)) for i in range(0, len(z), batch_size)]
        p = np.concatenate(parts).reshape(-1) if parts else np.zeros(0)
        return np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)


def train_keras_classifier(
    x0,
    x1,
    w0=None,
    w1=None,
    *,
    hidden: Sequence[int] = (64, 64),
    l2: float = 0.0,
    epochs: int = 20,
    batch_size: int = 1024,
    lr: float = 2e-3,
    val_fraction: float = 0.2,
    patience: int | None = 3,
    seed: int = 0,
) -> KerasClassifier:
    """Train a dense Keras network to separate class 0 (``x0``) from class 1 (``x1``) with binary cross entropy.

    The class weights are scaled so that both classes carry the same total weight, so s / (1 - s) estimates
    p_1 / p_0 directly (prior ratio 1). Inputs are standardised with the mean and spread of the training set.

    Args:
        x0, x1: events of each class, ``(n0, n_features)`` and ``(n1, n_features)``.
        w0, w1: event weights (default 1); negative weights are allowed.
        hidden: widths of the hidden layers (ReLU).
        l2: L2 penalty on the kernels (regularisation against over-fitting).
        epochs, batch_size, lr: the usual knobs (Adam).
        val_fraction: share kept for validation; with ``patience``, training stops when the validation loss has
            not improved for that many epochs and the best weights are restored.
        seed: seeds Keras, TensorFlow and the split.
    """
    import tf_keras as keras

    x0 = as_array(x0, "x0", ndim=2)
    x1 = as_array(x1, "x1", shape=(None, x0.shape[1]))
    w0 = np.ones(len(x0)) if w0 is None else _weights(w0, "w0", len(x0))
    w1 = np.ones(len(x1)) if w1 is None else _weights(w1, "w1", len(x1))
    if w0.sum() <= 0 or w1.sum() <= 0:
        raise ValueError("each class's weights must sum to a positive number")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    x = np.concatenate([x0, x1])
    y = np.concatenate([np.zeros(len(x0)), np.ones(len(x1))]).astype(np.float32)
    w = np.concatenate([w0 / w0.sum(), w1 / w1.sum()]) * (len(x) / 2)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    x, y, w = x[order], y[order], w[order]
    n_val = int(val_fraction * len(x))
    mean, std = x[n_val:].mean(0), x[n_val:].std(0) + 1e-8
    z = ((x - mean) / std).astype(np.float32)
    keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    model = keras.Sequential([keras.Input(shape=(x.shape[1],))])
    for width in hidden:
        model.add(keras.layers.Dense(positive_int(width, "hidden width"), activation="relu", kernel_regularizer=reg))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="binary_crossentropy", weighted_metrics=[])
    callbacks = []
    if n_val and patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
    fit = model.fit(
        z[n_val:],
        y[n_val:],
        sample_weight=w[n_val:],
        validation_data=(z[:n_val], y[:n_val], w[:n_val]) if n_val else None,
        epochs=positive_int(epochs, "epochs"),
        batch_size=positive_int(batch_size, "batch_size"),
        verbose=0,
        callbacks=callbacks,
    )
    history = {"train": list(fit.history["loss"])}
    if n_val:
        history["validation"] = list(fit.history["val_loss"])
    return KerasClassifier(model, mean, std, history)


def keras_classifier(**options) -> Classifier:
    """A :data:`Classifier` (for :func:`omnifold`) that trains :func:`train_keras_classifier` with ``options``."""

    def train(x0, x1, w0, w1):
        return train_keras_classifier(x0, x1, w0, w1, **options).predict

    return train
