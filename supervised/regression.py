"""Linear and logistic regression written out in numpy: the course's hand-written part.

Least squares (normal equations or QR), ridge with k-fold cross-validation, polynomial features and
under/overfitting, batch gradient descent and SGD with momentum, logistic (sigmoid) and softmax
regression. Every function takes a design matrix ``X`` of shape ``(n_samples, n_features)`` and
uses its columns as given: **an intercept is the caller's job** — prepend a column of ones with
:func:`add_intercept` (or :func:`polynomial_features`, whose first column is ``x⁰ = 1``) and pass
``intercept=True`` so that the penalty (ridge / L2) leaves that first column's weight alone.

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

from supervised.data import DataError, check_labels, load_diabetes, load_digits, split, standardizer

METHODS = ("normal", "qr")
#: The ridge penalties that :func:`experiment` cross-validates.
RIDGE_LAMBDAS = np.logspace(-2, 4, 31)
#: The polynomial degrees of the under/overfitting demonstration.
DEGREES = (1, 2, 20)
#: Default budgets of :func:`experiment` (passes over the training data).
GD_ITERATIONS, SGD_EPOCHS, SOFTMAX_ITERATIONS = 10_000, 1_000, 500
#: :func:`experiment`'s SGD: mini-batch size, and its step size's decay over the run (last / first).
SGD_BATCH_SIZE, SGD_STEP_DECAY = 16, 1e-3


# --- checking inputs ----------------------------------------------------------------------------


def _design(X: np.ndarray, name: str = "X") -> np.ndarray:
    """``X`` as a finite, non-empty float matrix ``(n_samples, n_features)``."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.size == 0:
        raise DataError(f"{name} is empty (shape {X.shape})")
    if not np.isfinite(X).all():
        raise DataError(f"{name} contains NaN or infinite values")
    return X


def _targets(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y`` as a 1-D array with one entry per row of ``X`` (dtype kept, for labels)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"y must be 1-D (n_samples,), got shape {y.shape}")
    if len(y) != len(X):
        raise DataError(f"X has {len(X)} rows but y has {len(y)} values")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise DataError("y contains NaN or infinite values")
    return y


def _regression_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``X`` and float ``y`` of a regression problem."""
    X = _design(X)
    return X, _targets(X, y).astype(float)


def _check_nonnegative(name: str, value: float) -> float:
    """Refuse a penalty (or other amount) that is negative, NaN or infinite."""
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def _check_positive_int(name: str, value: int) -> int:
    """Refuse counts below 1."""
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return int(value)


def _penalized(X: np.ndarray, intercept: bool) -> np.ndarray:
    """1.0 for every weight the penalty applies to, 0.0 for the intercept (the first column)."""
    if intercept and not np.all(X[:, 0] == 1.0):
        raise DataError("intercept=True but the first column of X is not all ones (add_intercept)")
    mask = np.ones(X.shape[1])
    if intercept:
        mask[0] = 0.0
    return mask


# --- least squares ------------------------------------------------------------------------------


def add_intercept(X: np.ndarray) -> np.ndarray:
    """``X`` with a first column of ones, so that ``w[0]`` is the intercept (bias)."""
    X = _design(X)
    return np.hstack([np.ones((len(X), 1)), X])


def back_substitution(R: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``R w = b`` for an upper-triangular, invertible ``R``, last unknown first."""
    d = len(b)
    w = np.zeros(d)
    for i in reversed(range(d)):
        w[i] = (b[i] - R[i, i + 1 :] @ w[i + 1 :]) / R[i, i]
    return w


def least_squares(
    X: np.ndarray,
    y: np.ndarray,
    ridge: float = 0.0,
    method: str = "qr",
    *,
    intercept: bool = False,
) -> np.ndarray:
    """The weights ``w`` minimizing ``‖y − Xw‖² + ridge · ‖w‖²``.

    ``method="normal"`` solves the normal equations ``(XᵀX + λI) w = Xᵀy``. It is the textbook
    formula, but forming ``XᵀX`` squares the condition number, so on an ill-conditioned design
    (nearly collinear columns, high-degree polynomials) it loses about twice as many digits as
    necessary. ``method="qr"`` factorizes the stacked system ``[X; √λ I] w ≈ [y; 0]`` as ``QR``
    and solves ``R w = Qᵀ [y; 0]`` by back substitution, which never forms ``XᵀX``; when ``R`` is
    numerically singular (rank-deficient ``X``) it falls back to ``numpy.linalg.lstsq``, the
    minimum-norm solution by SVD.

    Args:
        X: the design ``(n_samples, n_features)``, used as given (no intercept is added).
        y: targets ``(n_samples,)``.
        ridge: the penalty λ >= 0 (0: ordinary least squares). Same objective as scikit-learn's
            ``Ridge(alpha=λ, fit_intercept=False)``.
        method: ``"qr"`` (stable, default) or ``"normal"`` (normal equations).
        intercept: the first column of ``X`` is all ones (from :func:`add_intercept`); its weight
            is not penalized.

    Returns:
        The weights ``(n_features,)``; predictions are ``X @ w``.

    Raises:
        DataError: ``X`` not 2-D, ``y`` not 1-D of the same length, NaN/inf values, or
            ``intercept=True`` without a column of ones first.
        ValueError: a negative ridge, an unknown method, or singular normal equations.
    """
    X, y = _regression_data(X, y)
    ridge = _check_nonnegative("ridge", ridge)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    penalty = ridge * _penalized(X, intercept)  # λ on the diagonal, 0 for the intercept
    if method == "normal":
        try:
            return np.linalg.solve(X.T @ X + np.diag(penalty), X.T @ y)
        except np.linalg.LinAlgError:
            raise ValueError(
                "the normal equations are singular (collinear columns or fewer rows than "
                "columns); use method='qr' or ridge > 0"
            ) from None
    rows = np.diag(np.sqrt(penalty))[penalty > 0]  # the √λ I rows of the stacked system
    A = np.vstack([X, rows])
    b = np.concatenate([y, np.zeros(len(rows))])
    if A.shape[0] >= A.shape[1]:
        Q, R = np.linalg.qr(A)  # reduced: Q (m, d) with orthonormal columns, R (d, d)
        diagonal = np.abs(np.diag(R))
        if diagonal.min() > diagonal.max() * max(A.shape) * np.finfo(float).eps:
            return back_substitution(R, Q.T @ b)
    return np.linalg.lstsq(A, b, rcond=None)[0]


def mse(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Mean squared error ``‖Xw − y‖² / n`` of the linear model ``w``."""
    return float(np.mean((X @ w - y) ** 2))


def r2(y: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination ``1 − Σ(y − ŷ)² / Σ(y − ȳ)²``."""
    return float(1.0 - np.sum((y - prediction) ** 2) / np.sum((y - np.mean(y)) ** 2))


# --- polynomials: under- and overfitting ----------------------------------------------------------


def polynomial_features(x: np.ndarray, degree: int) -> np.ndarray:
    """The Vandermonde matrix ``[1, x, x², …, x^degree]`` of a 1-D ``x``: ``(n, degree + 1)``."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise DataError(f"x must be 1-D (n_samples,), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("x contains NaN or infinite values")
    if int(degree) != degree or degree < 0:
        raise ValueError(f"degree must be an integer >= 0, got {degree}")
    return x[:, None] ** np.arange(int(degree) + 1)


def true_function(x: np.ndarray) -> np.ndarray:
    """The smooth curve of :func:`polynomial_demo`: ``cos(πx/2)``, a hump close to a parabola."""
    return np.cos(np.pi * np.asarray(x) / 2)


@dataclass(frozen=True)
class PolynomialFits:
    """Noisy samples of :func:`true_function` and least-squares polynomials of several degrees."""

    x_train: np.ndarray
    """Training inputs, uniform in [-1, 1]."""
    y_train: np.ndarray
    """``true_function(x_train)`` plus Gaussian noise."""
    x_test: np.ndarray
    """Test inputs from the same distribution."""
    y_test: np.ndarray
    """Test targets, with noise."""
    weights: dict[int, np.ndarray]
    """Coefficients ``[c₀, c₁, …]`` per degree (of ``[1, x, x², …]``)."""
    train_mse: dict[int, float]
    """Training MSE per degree."""
    test_mse: dict[int, float]
    """Test MSE per degree."""

    def predict(self, degree: int, x: np.ndarray) -> np.ndarray:
        """The degree-``degree`` polynomial at ``x``."""
        return polynomial_features(x, degree) @ self.weights[degree]


def polynomial_demo(
    degrees: tuple[int, ...] = DEGREES,
    n_train: int = 30,
    n_test: int = 500,
    noise: float = 0.15,
    seed: int = 0,
) -> PolynomialFits:
    """Fit polynomials of each degree to ``n_train`` noisy points; measure train and test MSE.

    Inputs are uniform in [-1, 1] (where monomials up to degree 20 are still tractable for QR),
    targets ``cos(πx/2) + noise · N(0, 1)``, all drawn from ``np.random.default_rng(seed)``.
    """
    n_train = _check_positive_int("n_train", n_train)
    n_test = _check_positive_int("n_test", n_test)
    noise = _check_nonnegative("noise", noise)
    rng = np.random.default_rng(seed)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-1.0, 1.0, n)
        return x, true_function(x) + noise * rng.normal(size=n)

    (x_train, y_train), (x_test, y_test) = sample(n_train), sample(n_test)
    weights, train_mse, test_mse = {}, {}, {}
    for degree in degrees:
        w = least_squares(polynomial_features(x_train, degree), y_train, method="qr")
        weights[degree] = w
        train_mse[degree] = mse(polynomial_features(x_train, degree), y_train, w)
        test_mse[degree] = mse(polynomial_features(x_test, degree), y_test, w)
    return PolynomialFits(x_train, y_train, x_test, y_test, weights, train_mse, test_mse)


# --- ridge and cross-validation -------------------------------------------------------------------


def kfold(n: int, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``k`` disjoint validation index sets covering ``range(n)``, from a seeded shuffle."""
    if int(k) != k or not 2 <= k <= n:
        raise ValueError(f"k must be an integer in 2..{n} (the number of samples), got {k}")
    return np.array_split(np.random.default_rng(seed).permutation(n), int(k))


def ridge_cv(
    X: np.ndarray,
    y: np.ndarray,
    lambdas: np.ndarray,
    k: int = 5,
    seed: int = 0,
    *,
    intercept: bool = False,
) -> tuple[float, np.ndarray]:
    """Choose the ridge penalty by k-fold cross-validation.

    For each λ, fit :func:`least_squares` on ``k − 1`` folds and measure the MSE on the held-out
    fold; the CV error is the mean over the ``k`` folds. The folds come from :func:`kfold`
    (``seed``), so the same seed gives the same choice.

    Args:
        X: the design ``(n_samples, n_features)``.
        y: targets ``(n_samples,)``.
        lambdas: the candidate penalties (each >= 0).
        k: the number of folds (2..n_samples).
        seed: seeds the shuffle that assigns samples to folds.
        intercept: the first column of ``X`` is an unpenalized intercept.

    Returns:
        ``(best_lambda, cv_mse)``: the λ with the lowest CV error (the first one on ties) and the
        CV error of every λ, in the order given.

    Raises:
        DataError: bad ``X`` or ``y`` (see :func:`least_squares`).
        ValueError: no λ, a negative λ, or ``k`` outside 2..n_samples.
    """
    X, y = _regression_data(X, y)
    lambdas = np.atleast_1d(np.asarray(lambdas, dtype=float))
    if lambdas.ndim != 1 or len(lambdas) == 0:
        raise ValueError(f"lambdas must be a non-empty 1-D sequence, got shape {lambdas.shape}")
    for value in lambdas:
        _check_nonnegative("every lambda", value)
    folds = kfold(len(X), k, seed)
    errors = np.zeros((len(folds), len(lambdas)))
    for f, held_out in enumerate(folds):
        train = np.setdiff1d(np.arange(len(X)), held_out)
        for j, lam in enumerate(lambdas):
            w = least_squares(X[train], y[train], lam, intercept=intercept)
            errors[f, j] = mse(X[held_out], y[held_out], w)
    cv_mse = errors.mean(axis=0)
    return float(lambdas[np.argmin(cv_mse)]), cv_mse


# --- gradient descent on the squared loss ---------------------------------------------------------


def _smoothness(X: np.ndarray, factor: float) -> float:
    """``factor · λ_max(XᵀX) / n`` (``λ_max = σ_max(X)²``): the curvature bound of a mean loss."""
    return factor * np.linalg.eigvalsh(X.T @ X)[-1] / len(X)


def gradient_descent(
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float | None = None,
    iterations: int = 1000,
    w0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch gradient descent on the mean squared error ``J(w) = ‖Xw − y‖² / n``.

    Each step is ``w ← w − lr · ∇J(w)`` with ``∇J(w) = 2 Xᵀ(Xw − y) / n``. The default step
    ``lr = 1/L``, where ``L = 2 σ_max(X)² / n`` is the largest curvature of ``J``, decreases the
    loss at every step; the error along an eigendirection of curvature ``h`` shrinks by
    ``1 − h/L`` per step, so ill-conditioned (unstandardized) features converge slowly.

    Args:
        X: the design ``(n_samples, n_features)``.
        y: targets ``(n_samples,)``.
        lr: the step size (default ``1/L``).
        iterations: the number of steps (each one pass over the data).
        w0: the starting weights (default zeros).

    Returns:
        ``(w, losses)``: the final weights and ``J`` before each step and after the last
        (``iterations + 1`` values).
    """
    X, y = _regression_data(X, y)
    iterations = _check_positive_int("iterations", iterations)
    lr = 1.0 / _smoothness(X, 2.0) if lr is None else lr
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    n = len(X)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    losses = np.empty(iterations + 1)
    for t in range(iterations):
        residual = X @ w - y
        losses[t] = residual @ residual / n
        w = w - lr * (2.0 / n) * (X.T @ residual)
    losses[-1] = mse(X, y, w)
    return w, losses


def sgd_momentum(
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float | None = None,
    momentum: float = 0.9,
    batch_size: int = 32,
    epochs: int = 100,
    decay: float = 0.97,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch stochastic gradient descent with (heavy-ball) momentum on the mean squared error.

    Every epoch shuffles the rows (``np.random.default_rng(seed)``) and steps once per mini-batch
    ``B``: ``v ← momentum · v − lr_e · 2 X_Bᵀ(X_B w − y_B) / |B|`` then ``w ← w + v``. A constant
    step would leave ``w`` jittering around the minimum (the mini-batch gradients do not vanish
    there); the step size therefore decays geometrically, ``lr_e = lr · decay^e`` in epoch ``e``,
    so the iterates settle close to the closed-form solution.

    Args:
        X: the design ``(n_samples, n_features)``.
        y: targets ``(n_samples,)``.
        lr: the initial step size (default ``(1 − momentum) / L``, ``L`` as in
            :func:`gradient_descent`: an effective step of ``1/L``).
        momentum: the fraction of the previous update kept, in [0, 1).
        batch_size: the most rows per mini-batch; each epoch splits the shuffled rows into
            ``ceil(n / batch_size)`` batches of near-equal size.
        epochs: passes over the data.
        decay: the step size's factor per epoch, in (0, 1] (1: constant).
        seed: seeds the shuffles.

    Returns:
        ``(w, losses)``: the final weights and the full-data MSE before training and after every
        epoch (``epochs + 1`` values).
    """
    X, y = _regression_data(X, y)
    epochs = _check_positive_int("epochs", epochs)
    batch_size = _check_positive_int("batch_size", batch_size)
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    lr = (1.0 - momentum) / _smoothness(X, 2.0) if lr is None else lr
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    rng = np.random.default_rng(seed)
    n = len(X)
    w, velocity = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    losses = [mse(X, y, w)]
    for epoch in range(epochs):
        step = lr * decay**epoch
        # Near-equal batches (sizes differ by at most one): no small, noisy leftover batch.
        for batch in np.array_split(rng.permutation(n), -(-n // batch_size)):
            gradient = (2.0 / len(batch)) * (X[batch].T @ (X[batch] @ w - y[batch]))
            velocity = momentum * velocity - step * gradient
            w = w + velocity
        losses.append(mse(X, y, w))
    return w, np.array(losses)


# --- logistic and softmax regression --------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^{−z})``, computed without overflow for large ``|z|``."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``e^{z_k} / Σ_j e^{z_j}`` of ``(n, K)`` scores (shifted by the row max: stable)."""
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """``log softmax(z)`` row-wise, without taking the log of a rounded-to-zero probability."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _descend(gradient_and_loss, w, lr: float, iterations: int, tol: float):
    """Gradient descent until ``max |∇J| <= tol`` or ``iterations`` steps; (w, losses)."""
    losses = []
    for _ in range(iterations):
        gradient, loss = gradient_and_loss(w)
        losses.append(loss)
        if np.max(np.abs(gradient)) <= tol:
            break
        w = w - lr * gradient
    else:
        losses.append(gradient_and_loss(w)[1])
    return w, np.array(losses)


def logistic_regression(
    X: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = 0.0,
    lr: float | None = None,
    iterations: int = 1000,
    tol: float = 1e-8,
    intercept: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary logistic regression ``P(y=1 | x) = σ(xᵀw)`` trained by gradient descent.

    Minimizes the mean cross-entropy plus an L2 penalty,
    ``J(w) = −mean[y log σ(Xw) + (1 − y) log(1 − σ(Xw))] + (l2/2) ‖w‖²``, whose gradient is
    ``Xᵀ(σ(Xw) − y) / n + l2 · w``. This is scikit-learn's
    ``LogisticRegression(C=1 / (l2 · n))`` (``C=np.inf`` for ``l2=0``). The default step is
    ``1/L`` with ``L = σ_max(X)² / (4n) + l2``, since ``σ' <= 1/4``.

    Args:
        X: the design ``(n_samples, n_features)`` (add an intercept column yourself).
        y: labels ``(n_samples,)``, each 0 or 1.
        l2: the L2 penalty (>= 0). Without it and with separable classes, the weights grow
            without bound and only ``iterations`` stops the descent.
        lr: the step size (default ``1/L``).
        iterations: the most steps to take.
        tol: stop once every component of the gradient is at most this.
        intercept: the first column of ``X`` is all ones and is not penalized.

    Returns:
        ``(w, losses)``: weights ``(n_features,)`` and ``J`` at every step taken and at the end.

    Raises:
        DataError: bad ``X``/``y`` or labels other than 0 and 1.
        ValueError: a negative ``l2`` or non-positive ``lr``/``iterations``.
    """
    X = _design(X)
    y = _targets(X, y)
    if not np.isin(y, (0, 1)).all():
        found = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise DataError(f"y: binary labels must be 0 or 1, found {found.tolist()}")
    y = y.astype(float)
    l2 = _check_nonnegative("l2", l2)
    iterations = _check_positive_int("iterations", iterations)
    lr = 1.0 / (_smoothness(X, 0.25) + l2) if lr is None else lr
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    mask = _penalized(X, intercept)
    n = len(X)

    def gradient_and_loss(w: np.ndarray) -> tuple[np.ndarray, float]:
        z = X @ w
        # −[y log σ(z) + (1 − y) log σ(−z)] = log(1 + e^z) − y z, written stably with logaddexp.
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(mask * w**2)
        return X.T @ (sigmoid(z) - y) / n + l2 * mask * w, float(loss)

    return _descend(gradient_and_loss, np.zeros(X.shape[1]), lr, iterations, tol)


def softmax_regression(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int | None = None,
    *,
    l2: float = 0.0,
    lr: float | None = None,
    iterations: int = 1000,
    tol: float = 1e-8,
    intercept: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Multiclass (softmax) logistic regression ``P(y=k | x) = softmax(xᵀW)_k`` by gradient descent.

    Minimizes ``J(W) = −mean_i log softmax(x_iᵀW)_{y_i} + (l2/2) ‖W‖²``, whose gradient is
    ``Xᵀ(P − Y) / n + l2 · W`` with ``P`` the predicted probabilities and ``Y`` the one-hot
    labels. The default step is ``1/L``, ``L = σ_max(X)² / (2n) + l2`` (the softmax's Jacobian
    ``diag(p) − ppᵀ`` has norm at most 1/2).

    Args:
        X: the design ``(n_samples, n_features)`` (add an intercept column yourself).
        y: integer labels ``(n_samples,)`` in ``0..n_classes-1``.
        n_classes: the number of classes (default ``max(y) + 1``).
        l2: the L2 penalty (>= 0).
        lr: the step size (default ``1/L``).
        iterations: the most steps to take.
        tol: stop once every component of the gradient is at most this.
        intercept: the first column of ``X`` is all ones and its row of ``W`` is not penalized.

    Returns:
        ``(W, losses)``: weights ``(n_features, n_classes)`` and ``J`` at every step taken and at
        the end.

    Raises:
        DataError: bad ``X``/``y`` or labels that are not integers in ``0..n_classes-1``.
        ValueError: a negative ``l2`` or non-positive ``lr``/``iterations``/``n_classes``.
    """
    X = _design(X)
    y = _targets(X, y)
    if n_classes is None:  # non-integer labels get check_labels' message below
        n_classes = max(int(y.max()) + 1, 1) if np.issubdtype(y.dtype, np.integer) else 1
    n_classes = _check_positive_int("n_classes", n_classes)
    check_labels(y, n_classes, "y")
    l2 = _check_nonnegative("l2", l2)
    iterations = _check_positive_int("iterations", iterations)
    lr = 1.0 / (_smoothness(X, 0.5) + l2) if lr is None else lr
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    mask = _penalized(X, intercept)[:, None]
    n = len(X)
    one_hot = np.eye(n_classes)[y]

    def gradient_and_loss(W: np.ndarray) -> tuple[np.ndarray, float]:
        log_p = _log_softmax(X @ W)
        loss = -np.mean(log_p[np.arange(n), y]) + 0.5 * l2 * np.sum(mask * W**2)
        return X.T @ (np.exp(log_p) - one_hot) / n + l2 * mask * W, float(loss)

    return _descend(gradient_and_loss, np.zeros((X.shape[1], n_classes)), lr, iterations, tol)


def predict_proba(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Probabilities: ``P(y=1 | x)`` ``(n,)`` for binary ``w`` ``(d,)``, or ``(n, K)`` for ``W``."""
    X = _design(X)
    w = np.asarray(w, dtype=float)
    if w.ndim not in (1, 2) or len(w) != X.shape[1]:
        raise DataError(f"X has {X.shape[1]} features but the weights have shape {w.shape}")
    return sigmoid(X @ w) if w.ndim == 1 else softmax(X @ w)


def predict(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Labels (int64): ``P(y=1 | x) >= 0.5`` for binary ``w``, else the most probable class."""
    p = predict_proba(X, w)
    return (p >= 0.5).astype(np.int64) if p.ndim == 1 else np.argmax(p, axis=1)


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
