"""Logistic (sigmoid) and softmax regression written out in numpy, trained by gradient descent.

The designs are those of :mod:`supervised.least_squares` (checked the same way; an intercept is
the caller's job: :func:`~supervised.least_squares.add_intercept`, then ``intercept=True`` so
that the L2 penalty leaves its weight alone).
"""

from __future__ import annotations

import numpy as np

from supervised.data import DataError, check_labels
from supervised.least_squares import (
    _check_nonnegative,
    _check_positive_int,
    _design,
    _penalized,
    _smoothness,
    _targets,
)


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
