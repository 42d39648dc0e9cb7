"""Linear regression written out in numpy: least squares, ridge, polynomials, gradient descent.

Least squares (normal equations or QR), ridge with k-fold cross-validation, polynomial features
and under/overfitting, batch gradient descent and SGD with momentum on the squared loss. Every
function takes a design matrix ``X`` of shape ``(n_samples, n_features)`` and uses its columns
as given: **an intercept is the caller's job** — prepend a column of ones with
:func:`add_intercept` (or :func:`polynomial_features`, whose first column is ``x⁰ = 1``) and pass
``intercept=True`` so that the penalty (ridge / L2) leaves that first column's weight alone.
Logistic and softmax regression, on the same designs, are in :mod:`supervised.logistic`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from supervised.data import DataError

METHODS = ("normal", "qr")
#: The polynomial degrees of the under/overfitting demonstration.
DEGREES = (1, 2, 20)


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
