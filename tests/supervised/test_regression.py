"""Least squares, ridge + CV, gradient descent, logistic/softmax regression, and the experiment."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score

from rlcourse.cli import main
from supervised import least_squares as linear
from supervised import logistic
from supervised import regression as reg
from supervised.data import DataError, load_digits, split, standardizer
from supervised.experiments import run


def well_conditioned(n=120, d=6, noise=0.1, seed=0):
    """Standardized random features (plus an intercept column) and noisy linear targets."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d - 1))
    X = linear.add_intercept((X - X.mean(0)) / X.std(0))
    y = X @ rng.normal(size=d) + noise * rng.normal(size=n)
    return X, y


def lstsq(X, y):
    return np.linalg.lstsq(X, y, rcond=None)[0]


# --- least squares --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["qr", "normal"])
def test_least_squares_matches_numpy_lstsq(method):
    X, y = well_conditioned()
    np.testing.assert_allclose(linear.least_squares(X, y, method=method), lstsq(X, y), atol=1e-10)


def test_qr_survives_an_ill_conditioned_design_where_normal_equations_fail():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 50)
    X = linear.polynomial_features(x, 12)  # Vandermonde, condition number ~7e8
    y = np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=50)
    reference = lstsq(X, y)
    scale = np.abs(reference).max()
    qr_error = np.abs(linear.least_squares(X, y, method="qr") - reference).max() / scale
    assert qr_error < 1e-9
    # κ(XᵀX) = κ(X)² ~ 5e17, beyond double precision: whether LAPACK meets an exactly zero pivot
    # (singular) or solves to hardly any correct digits depends on how the BLAS rounds XᵀX,
    # which differs between CPUs and thread counts. Either way the normal equations fail.
    try:
        normal = linear.least_squares(X, y, method="normal")
    except ValueError as error:
        assert "the normal equations are singular" in str(error)
    else:
        normal_error = np.abs(normal - reference).max() / scale
        assert normal_error > 1e-3
        assert normal_error > 1e5 * qr_error


def test_qr_falls_back_to_minimum_norm_on_a_rank_deficient_design():
    X, y = well_conditioned()
    X = np.hstack([X, X[:, 1:2]])  # a duplicated column
    np.testing.assert_allclose(linear.least_squares(X, y), lstsq(X, y), atol=1e-10)
    with pytest.raises(ValueError, match="the normal equations are singular"):
        linear.least_squares(X[:, [1, 1]], y, method="normal")


@pytest.mark.parametrize("method", ["qr", "normal"])
@pytest.mark.parametrize("alpha", [0.01, 1.0, 50.0])
def test_ridge_matches_sklearn(method, alpha):
    X, y = well_conditioned(n=40, d=8)
    expected = Ridge(alpha=alpha, fit_intercept=False).fit(X, y).coef_
    np.testing.assert_allclose(linear.least_squares(X, y, alpha, method), expected, atol=1e-8)


@pytest.mark.parametrize("method", ["qr", "normal"])
def test_ridge_leaves_the_intercept_unpenalized_like_sklearn(method):
    X, y = well_conditioned(n=40, d=8)
    y = y + 100.0  # a large offset that a penalized intercept would shrink
    sk = Ridge(alpha=5.0, fit_intercept=True).fit(X[:, 1:], y)
    w = linear.least_squares(X, y, 5.0, method, intercept=True)
    np.testing.assert_allclose(w, np.r_[sk.intercept_, sk.coef_], atol=1e-8)


def test_add_intercept_and_polynomial_features():
    np.testing.assert_array_equal(linear.add_intercept([[2.0], [3.0]]), [[1, 2], [1, 3]])
    np.testing.assert_array_equal(
        linear.polynomial_features(np.array([2.0, -1.0]), 3), [[1, 2, 4, 8], [1, -1, 1, -1]]
    )


# --- polynomials and ridge CV ---------------------------------------------------------------------


def test_polynomial_demo_underfits_at_degree_1_and_overfits_at_degree_20():
    fits = linear.polynomial_demo(seed=0)
    train, test = fits.train_mse, fits.test_mse
    assert train[1] > train[2] > train[20]
    assert test[20] > 3 * test[2]  # overfitting: best on training data, bad on new data
    assert test[1] > 3 * test[2]  # underfitting: bad everywhere
    assert train[20] < 0.5 * 0.15**2 < test[20]  # fits below the noise level (σ = 0.15)
    # The same seed gives the same samples; another seed gives others.
    np.testing.assert_array_equal(linear.polynomial_demo(seed=0).x_train, fits.x_train)
    assert not np.array_equal(linear.polynomial_demo(seed=1).x_train, fits.x_train)


def test_ridge_cv_curve_matches_sklearn_on_the_same_folds_and_picks_its_minimum():
    X, y = well_conditioned(n=60, d=10, noise=1.0)
    lambdas = np.logspace(-3, 3, 13)
    best, curve = linear.ridge_cv(X, y, lambdas, k=5, seed=3)
    folds = linear.kfold(len(X), 5, seed=3)
    cv = [(np.setdiff1d(np.arange(len(X)), held_out), held_out) for held_out in folds]
    expected = [
        -cross_val_score(
            Ridge(alpha=lam, fit_intercept=False), X, y, cv=cv, scoring="neg_mean_squared_error"
        ).mean()
        for lam in lambdas
    ]
    np.testing.assert_allclose(curve, expected, rtol=1e-9)
    assert best == lambdas[np.argmin(expected)]
    assert lambdas[0] < best < lambdas[-1]  # an interior optimum on this data


def test_ridge_cv_is_deterministic_under_a_seed():
    X, y = well_conditioned(n=60, d=10, noise=1.0)
    lambdas = np.logspace(-3, 3, 13)
    first, again = linear.ridge_cv(X, y, lambdas, seed=7), linear.ridge_cv(X, y, lambdas, seed=7)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], linear.ridge_cv(X, y, lambdas, seed=8)[1])
    folds = linear.kfold(60, 5, seed=7)
    assert [len(f) for f in folds] == [12] * 5
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(60))


# --- gradient descent -----------------------------------------------------------------------------


def test_batch_gradient_descent_converges_to_the_closed_form():
    X, y = well_conditioned(n=200)
    w, losses = linear.gradient_descent(X, y, iterations=500)
    assert np.abs(w - lstsq(X, y)).max() < 1e-8
    assert losses.shape == (501,)
    assert np.all(np.diff(losses) <= 1e-12)  # step 1/L: the loss never increases
    assert losses[-1] == pytest.approx(linear.mse(X, y, lstsq(X, y)), rel=1e-12)


def test_sgd_with_momentum_converges_to_the_closed_form():
    X, y = well_conditioned(n=200)
    w, losses = linear.sgd_momentum(X, y, batch_size=32, epochs=500, decay=0.98, seed=0)
    assert np.abs(w - lstsq(X, y)).max() < 1e-4
    assert losses.shape == (501,)
    assert losses[-1] < 1.001 * linear.mse(X, y, lstsq(X, y))
    again, _ = linear.sgd_momentum(X, y, batch_size=32, epochs=500, decay=0.98, seed=0)
    np.testing.assert_array_equal(w, again)


# --- logistic and softmax regression --------------------------------------------------------------


def overlapping_classes(n=200, seed=0):
    """Two Gaussian blobs that overlap (so the unpenalized maximum likelihood is finite)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.0, -0.5)
    return x, y


def test_binary_logistic_matches_unpenalized_sklearn():
    x, y = overlapping_classes()
    X = linear.add_intercept(x)
    w, losses = logistic.logistic_regression(X, y, iterations=20_000)
    sk = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(logistic.predict_proba(X, w), sk.predict_proba(X)[:, 1], atol=1e-3)
    np.testing.assert_allclose(w, sk.coef_[0], atol=1e-3)
    np.testing.assert_array_equal(logistic.predict(X, w), sk.predict(X))
    assert losses[-1] < losses[0] == pytest.approx(np.log(2))


def test_binary_logistic_l2_with_unpenalized_intercept_matches_sklearn():
    x, y = overlapping_classes(n=150, seed=1)
    C = 0.5
    sk = LogisticRegression(C=C, tol=1e-10, max_iter=1000).fit(x, y)  # intercept unpenalized
    w, _ = logistic.logistic_regression(
        linear.add_intercept(x), y, l2=1 / (C * len(x)), iterations=20_000, intercept=True
    )
    np.testing.assert_allclose(w, np.r_[sk.intercept_, sk.coef_[0]], atol=1e-4)
    np.testing.assert_allclose(
        logistic.predict_proba(linear.add_intercept(x), w), sk.predict_proba(x)[:, 1], atol=1e-4
    )


def test_softmax_regression_matches_sklearn_multinomial():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 150)
    x = rng.normal(size=(150, 2)) + np.array([[0, 0], [1.5, 0], [0, 1.5]])[y]
    C = 1.0
    sk = LogisticRegression(C=C, tol=1e-10, max_iter=1000).fit(x, y)
    W, _ = logistic.softmax_regression(
        linear.add_intercept(x), y, 3, l2=1 / (C * len(x)), iterations=20_000, intercept=True
    )
    np.testing.assert_allclose(
        logistic.predict_proba(linear.add_intercept(x), W), sk.predict_proba(x), atol=1e-4
    )
    assert W.shape == (3, 3)


def test_softmax_regression_classifies_digits():
    digits = load_digits()
    parts = split(digits, val=0.0, test=0.2, seed=0)
    train = parts.train.x.reshape(len(parts.train.x), -1).astype(float)
    test = parts.test.x.reshape(len(parts.test.x), -1).astype(float)
    scale = standardizer(train)
    X_train, X_test = linear.add_intercept(scale(train)), linear.add_intercept(scale(test))
    W, losses = logistic.softmax_regression(X_train, parts.train.y, 10, l2=1e-3, iterations=300)
    assert losses[0] == pytest.approx(np.log(10))
    assert np.mean(logistic.predict(X_test, W) == parts.test.y) >= 0.9
    proba = logistic.predict_proba(X_test, W)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_sigmoid_and_softmax_are_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(logistic.sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0, 0.5, 1])
        np.testing.assert_allclose(
            logistic.softmax(np.array([[1000.0, 1000.0, -1000.0]])), [[0.5, 0.5, 0]]
        )


# --- bad input ------------------------------------------------------------------------------------

X_OK, Y_OK = well_conditioned(n=20, d=3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: linear.least_squares(X_OK[:, 0], Y_OK), DataError,
         "X must be 2-D (n_samples, n_features), got shape (20,)"),
        (lambda: linear.least_squares(X_OK, Y_OK[:-1]), DataError,
         "X has 20 rows but y has 19 values"),
        (lambda: linear.least_squares(X_OK, Y_OK[:, None]), DataError,
         "y must be 1-D (n_samples,), got shape (20, 1)"),
        (lambda: linear.least_squares(np.where(X_OK > 1, np.nan, X_OK), Y_OK), DataError,
         "X contains NaN or infinite values"),
        (lambda: linear.least_squares(X_OK, np.r_[Y_OK[:-1], np.inf]), DataError,
         "y contains NaN or infinite values"),
        (lambda: linear.least_squares(X_OK, Y_OK, ridge=-1.0), ValueError,
         "ridge must be a finite number >= 0, got -1.0"),
        (lambda: linear.least_squares(X_OK, Y_OK, method="svd"), ValueError,
         "method must be one of normal, qr, got 'svd'"),
        (lambda: linear.least_squares(X_OK[:, 1:], Y_OK, 1.0, intercept=True), DataError,
         "intercept=True but the first column of X is not all ones (add_intercept)"),
        (lambda: linear.ridge_cv(X_OK, Y_OK, [1.0, -2.0]), ValueError,
         "every lambda must be a finite number >= 0, got -2.0"),
        (lambda: linear.ridge_cv(X_OK, Y_OK, [1.0], k=21), ValueError,
         "k must be an integer in 2..20 (the number of samples), got 21"),
        (lambda: linear.polynomial_features(np.ones((3, 1)), 2), DataError,
         "x must be 1-D (n_samples,), got shape (3, 1)"),
        (lambda: logistic.logistic_regression(X_OK, np.arange(20) % 3), DataError,
         "y: binary labels must be 0 or 1, found [2]"),
        (lambda: logistic.softmax_regression(X_OK, np.arange(20) % 4, 3), DataError,
         "y: labels must be in 0..2, found 0..3"),
        (lambda: logistic.softmax_regression(X_OK, np.arange(20) - 1), DataError,
         "y: labels must be in 0..18, found -1..18"),
        (lambda: logistic.softmax_regression(X_OK, np.zeros(20)), DataError,
         "y: labels must be integers, got float64"),
        (lambda: logistic.logistic_regression(X_OK, np.arange(20) % 2, l2=-0.1), ValueError,
         "l2 must be a finite number >= 0, got -0.1"),
        (lambda: logistic.predict(X_OK, np.zeros(4)), DataError,
         "X has 3 features but the weights have shape (4,)"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_message_naming_it(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# --- the experiment and its command ---------------------------------------------------------------

KEYS = {
    "diabetes_train_mse", "diabetes_test_mse", "diabetes_test_r2",
    "ridge_best_lambda", "ridge_cv_mse", "ridge_test_mse", "ridge_test_r2",
    "poly_train_mse_deg1", "poly_train_mse_deg2", "poly_train_mse_deg20",
    "poly_test_mse_deg1", "poly_test_mse_deg2", "poly_test_mse_deg20",
    "gd_max_weight_error", "sgd_max_weight_error", "gd_loss_gap", "sgd_loss_gap",
    "logistic_train_accuracy", "logistic_test_accuracy",
}  # fmt: skip
PLOTS = ("polynomial_fits.png", "ridge_cv.png", "gd_convergence.png")


def test_experiment_writes_documented_metrics_and_plots(tmp_path):
    metrics = run("regression", tmp_path, progress=False)
    assert set(metrics) == KEYS
    assert all(f"``{key}``" in reg.__doc__ for key in KEYS if "deg" not in key)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    for name in PLOTS:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0.4 < metrics["diabetes_test_r2"] < 0.7
    assert metrics["ridge_best_lambda"] in reg.RIDGE_LAMBDAS
    assert metrics["poly_test_mse_deg20"] > metrics["poly_test_mse_deg2"]
    assert metrics["poly_train_mse_deg20"] < metrics["poly_train_mse_deg2"]
    assert metrics["gd_max_weight_error"] < 1e-6
    assert 0 <= metrics["sgd_loss_gap"] < 1.0  # out of a training MSE near 2900
    assert metrics["logistic_test_accuracy"] >= 0.9


def test_cli_runs_the_regression_experiment(tmp_path, capsys):
    assert main(["supervised", "regression", "--out", str(tmp_path / "r")]) == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics) == KEYS
    assert "logistic_test_accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (linear, ["METHODS", "DEGREES", "add_intercept", "back_substitution", "least_squares",
                  "mse", "r2", "polynomial_features", "true_function", "PolynomialFits",
                  "polynomial_demo", "kfold", "ridge_cv", "gradient_descent", "sgd_momentum"]),
        (logistic, ["sigmoid", "softmax", "logistic_regression", "softmax_regression",
                    "predict_proba", "predict"]),
    ],
)  # fmt: skip
def test_the_methods_are_still_found_in_supervised_regression(module, names):
    for name in names:
        assert getattr(reg, name) is getattr(module, name), name
