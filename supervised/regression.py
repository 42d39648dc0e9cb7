"""The regression experiment: least squares to logistic regression, with its three plots.

The methods are :mod:`supervised.least_squares` (least squares, ridge, polynomials, gradient
descent) and :mod:`supervised.logistic` (logistic and softmax regression); their names are
still found here (``supervised.regression.least_squares``, …) for one release.

``rlcourse supervised regression --out DIR`` runs :func:`experiment` and writes
``polynomial_fits.png``, ``ridge_cv.png``, ``gd_convergence.png`` and ``metrics.json`` with
these keys:

- ``diabetes_train_mse``, ``diabetes_test_mse``, ``diabetes_test_r2``: ordinary least squares
  (QR, with intercept) on scikit-learn's diabetes set, features standardized on the training split
  (80 % train, 20 % test); MSE in squared disease-progression units, R² = 1 − MSE / Var(y_test).
- ``ridge_best_lambda``: the ridge penalty λ that 5-fold cross-validation on the training split
  picks from ``RIDGE_LAMBDAS`` (the objective is ``‖y − Xw‖² + λ‖w‖²``, intercept unpenalized).
- ``ridge_cv_mse``: that λ's mean validation MSE over the folds.
- ``ridge_test_mse``, ``ridge_test_r2``: the ridge model refitted on the whole training split.
- ``poly_train_mse_deg{1,2,20}``, ``poly_test_mse_deg{1,2,20}``: polynomial least squares on
  noisy samples of ``cos(πx/2)`` (:func:`polynomial_demo`); degree 1 underfits (both errors
  high), degree 20 overfits (lowest training error, high test error).
- ``gd_max_weight_error``: ``max |w − w*|`` between batch gradient descent (``GD_ITERATIONS``
  steps of size 1/L) on the diabetes training MSE and the closed-form weights ``w*`` (QR).
- ``sgd_max_weight_error``: the same for SGD with momentum 0.9 (batches of 16, ``SGD_EPOCHS``
  epochs, the step decaying geometrically to 1/1000 of its start). Diabetes' features are nearly
  collinear (κ(XᵀX) ≈ 440), so the loss is flat along one direction: SGD gets within a small
  fraction of the optimal loss while its weights can still differ by ~0.1 there.
- ``gd_loss_gap``, ``sgd_loss_gap``: their final training MSE minus the closed-form MSE.
- ``logistic_train_accuracy``, ``logistic_test_accuracy``: softmax regression trained by
  ``SOFTMAX_ITERATIONS`` gradient-descent steps (L2 10⁻³, intercept unpenalized) on
  scikit-learn's 8×8 digits (64 pixels standardized; 80/20 split); test accuracy ≈ 0.95–0.97.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from supervised.data import load_diabetes, load_digits, split, standardizer

# The experiment uses some of the methods; all are found here for one release (deprecated:
# import them from supervised.least_squares and supervised.logistic).
from supervised.least_squares import (  # noqa: F401
    DEGREES,
    METHODS,
    PolynomialFits,
    _check_positive_int,
    add_intercept,
    back_substitution,
    gradient_descent,
    kfold,
    least_squares,
    mse,
    polynomial_demo,
    polynomial_features,
    r2,
    ridge_cv,
    sgd_momentum,
    true_function,
)
from supervised.logistic import (  # noqa: F401
    logistic_regression,
    predict,
    predict_proba,
    sigmoid,
    softmax,
    softmax_regression,
)

#: The ridge penalties that :func:`experiment` cross-validates.
RIDGE_LAMBDAS = np.logspace(-2, 4, 31)
#: Default budgets of :func:`experiment` (passes over the training data).
GD_ITERATIONS, SGD_EPOCHS, SOFTMAX_ITERATIONS = 10_000, 1_000, 500
#: :func:`experiment`'s SGD: mini-batch size, and its step size's decay over the run (last / first).
SGD_BATCH_SIZE, SGD_STEP_DECAY = 16, 1e-3


# --- the experiment -------------------------------------------------------------------------------


def experiment(
    out: Path, *, epochs: int | None = None, seed: int = 0, progress: bool = True
) -> dict[str, float]:
    """Least squares to logistic regression on diabetes, a noisy polynomial, and digits.

    Writes ``polynomial_fits.png``, ``ridge_cv.png`` and ``gd_convergence.png`` into ``out``.

    Args:
        out: the output directory (created if missing).
        epochs: passes over the training data of every gradient-descent fit (batch GD, SGD with
            momentum, softmax regression); None: their defaults ``GD_ITERATIONS``,
            ``SGD_EPOCHS``, ``SOFTMAX_ITERATIONS``.
        seed: seeds the data splits, the CV folds, the polynomial samples and SGD's shuffles.
        progress: show a progress bar over the stages (on a terminal).

    Returns:
        The metrics (keys in this module's docstring), which
        :func:`supervised.experiments.run` writes to ``metrics.json``.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if epochs is not None:
        epochs = _check_positive_int("epochs", epochs)
    stages = tqdm(total=4, disable=not progress or None, unit="stage", leave=False)
    diabetes = _diabetes(seed)
    metrics, w_ols = _least_squares_stage(diabetes, seed, out)
    stages.update()
    metrics.update(_polynomial_stage(seed, out))
    stages.update()
    metrics.update(_gradient_stage(diabetes, w_ols, epochs, seed, out))
    stages.update()
    metrics.update(_softmax_stage(epochs, seed))
    stages.update()
    stages.close()
    return metrics


@dataclass(frozen=True)
class _Diabetes:
    """Diabetes split 80/20, features standardized on the training split, intercept first."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _diabetes(seed: int) -> _Diabetes:
    """The diabetes design matrices and targets of :func:`experiment`."""
    parts = split(load_diabetes(), val=0.0, test=0.2, seed=seed)
    scale = standardizer(parts.train.x)
    return _Diabetes(
        add_intercept(scale(parts.train.x)),
        parts.train.y,
        add_intercept(scale(parts.test.x)),
        parts.test.y,
    )


def _least_squares_stage(
    data: _Diabetes, seed: int, out: Path
) -> tuple[dict[str, float], np.ndarray]:
    """Ordinary least squares and ridge chosen by 5-fold CV; the metrics and the OLS weights."""
    X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    w_ols = least_squares(X_train, y_train, intercept=True)
    best, cv_mse = ridge_cv(X_train, y_train, RIDGE_LAMBDAS, k=5, seed=seed, intercept=True)
    w_ridge = least_squares(X_train, y_train, best, intercept=True)
    _plot_ridge_cv(RIDGE_LAMBDAS, cv_mse, best, out / "ridge_cv.png")
    metrics = {
        "diabetes_train_mse": mse(X_train, y_train, w_ols),
        "diabetes_test_mse": mse(X_test, y_test, w_ols),
        "diabetes_test_r2": r2(y_test, X_test @ w_ols),
        "ridge_best_lambda": best,
        "ridge_cv_mse": float(cv_mse.min()),
        "ridge_test_mse": mse(X_test, y_test, w_ridge),
        "ridge_test_r2": r2(y_test, X_test @ w_ridge),
    }
    return metrics, w_ols


def _polynomial_stage(seed: int, out: Path) -> dict[str, float]:
    """Polynomials of each of :data:`DEGREES` on 30 noisy points: train and test MSE."""
    fits = polynomial_demo(DEGREES, seed=seed)
    metrics = {}
    for degree in DEGREES:
        metrics[f"poly_train_mse_deg{degree}"] = fits.train_mse[degree]
        metrics[f"poly_test_mse_deg{degree}"] = fits.test_mse[degree]
    _plot_polynomials(fits, out / "polynomial_fits.png")
    return metrics


def _gradient_stage(
    data: _Diabetes, w_ols: np.ndarray, epochs: int | None, seed: int, out: Path
) -> dict[str, float]:
    """Batch gradient descent and SGD with momentum against the closed form ``w_ols``."""
    X_train, y_train = data.X_train, data.y_train
    w_gd, gd_losses = gradient_descent(X_train, y_train, iterations=epochs or GD_ITERATIONS)
    sgd_epochs = epochs or SGD_EPOCHS
    w_sgd, sgd_losses = sgd_momentum(
        X_train,
        y_train,
        batch_size=SGD_BATCH_SIZE,
        epochs=sgd_epochs,
        decay=SGD_STEP_DECAY ** (1 / sgd_epochs),
        seed=seed,
    )
    best_loss = mse(X_train, y_train, w_ols)
    _plot_convergence(gd_losses, sgd_losses, best_loss, out / "gd_convergence.png")
    return {
        "gd_max_weight_error": float(np.max(np.abs(w_gd - w_ols))),
        "sgd_max_weight_error": float(np.max(np.abs(w_sgd - w_ols))),
        "gd_loss_gap": float(gd_losses[-1] - best_loss),
        "sgd_loss_gap": float(sgd_losses[-1] - best_loss),
    }


def _softmax_stage(epochs: int | None, seed: int) -> dict[str, float]:
    """Softmax regression on the 8×8 digits (standardized pixels, intercept, L2 10⁻³)."""
    digits = load_digits()
    parts = split(digits, val=0.0, test=0.2, seed=seed)
    flat_train = parts.train.x.reshape(len(parts.train.x), -1).astype(float)
    flat_test = parts.test.x.reshape(len(parts.test.x), -1).astype(float)
    scale = standardizer(flat_train)
    X_train, X_test = add_intercept(scale(flat_train)), add_intercept(scale(flat_test))
    W, _ = softmax_regression(
        X_train,
        parts.train.y,
        len(digits.classes),
        l2=1e-3,
        iterations=epochs or SOFTMAX_ITERATIONS,
        intercept=True,
    )
    return {
        "logistic_train_accuracy": float(np.mean(predict(X_train, W) == parts.train.y)),
        "logistic_test_accuracy": float(np.mean(predict(X_test, W) == parts.test.y)),
    }


def _plot_ridge_cv(lambdas: np.ndarray, cv_mse: np.ndarray, best: float, path: Path) -> None:
    """Cross-validation error against λ (log axis), the chosen λ marked."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.semilogx(lambdas, cv_mse, marker="o", markersize=3, label="mean validation MSE")
    ax.axvline(best, color="grey", linestyle=":", label=f"best λ = {best:.3g}")
    ax.set_xlabel("ridge penalty λ")
    ax.set_ylabel("5-fold cross-validation MSE")
    ax.set_title("Ridge regression on diabetes: cross-validation error vs λ")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path, dpi=110)


def _plot_polynomials(fits: PolynomialFits, path: Path) -> None:
    """The training points, the true curve and each degree's fit."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    fig = Figure(figsize=(7, 5.5), layout="constrained")
    ax = fig.add_subplot()
    grid = np.linspace(-1, 1, 400)
    ax.scatter(fits.x_test, fits.y_test, s=4, color="lightgrey", label="test points")
    ax.scatter(fits.x_train, fits.y_train, s=18, color="black", zorder=3, label="training points")
    ax.plot(grid, true_function(grid), color="black", linestyle="--", label="true cos(πx/2)")
    for degree in fits.weights:
        ax.plot(
            grid,
            fits.predict(degree, grid),
            label=f"degree {degree}: train MSE {fits.train_mse[degree]:.3g}, "
            f"test MSE {fits.test_mse[degree]:.3g}",
        )
    low, high = fits.y_test.min(), fits.y_test.max()
    ax.set_ylim(low - 0.5 * (high - low), high + 0.5 * (high - low))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Polynomial least squares: underfitting (degree 1) and overfitting (degree 20)")
    fig.legend(fontsize="small", loc="outside lower center", ncols=2)
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=110)


def _plot_convergence(
    gd_losses: np.ndarray, sgd_losses: np.ndarray, best_loss: float, path: Path
) -> None:
    """Training MSE per pass over the data for GD and SGD with momentum, and the gap to the best."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    floor = 1e-12 * best_loss  # the gap reaches rounding level: keep it on the log axis
    for ax, offset in ((left, 0.0), (right, best_loss)):
        for losses, label in ((gd_losses, "batch GD"), (sgd_losses, "SGD with momentum")):
            passes = np.arange(len(losses))  # 0: the starting weights
            ax.loglog(passes[1:], np.maximum(losses[1:] - offset, floor), label=label)
        ax.set_xlabel("passes over the training data (GD: steps; SGD: epochs)")
        ax.grid(alpha=0.3)
    left.axhline(best_loss, color="black", linestyle="--", label="closed form (QR)")
    left.set_ylabel("training MSE")
    left.set_title("Loss per iteration vs the closed-form loss")
    right.set_ylabel("training MSE − closed-form MSE")
    right.set_title("Gap to the closed form (clipped at rounding level)")
    left.legend()
    fig.suptitle("Gradient descent on diabetes (standardized features, intercept)")
    save_figure(fig, path, dpi=110)
