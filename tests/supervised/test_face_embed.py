import numpy as np
import pytest
import torch

from supervised.data import DataError
from supervised.face_embed import (
    EmbeddingNet,
    Verification,
    augment,
    face_input,
    fingerprint,
    load_embedder,
    plot_roc,
    semi_hard_triplet_loss,
    squared_distances,
)


def test_embeddings_are_unit_vectors():
    torch.manual_seed(0)
    e = EmbeddingNet(dim=16)(torch.randn(5, 1, 32, 32))
    assert e.shape == (5, 16)
    assert torch.allclose(e.norm(dim=1), torch.ones(5), atol=1e-5)
    with pytest.raises(ValueError, match=r"expected faces \(n, 1, 32, 32\)"):
        EmbeddingNet()(torch.randn(2, 1, 25, 25))


def test_squared_distances():
    e = torch.tensor([[1.0, 0], [0, 1], [-1, 0]])
    assert torch.allclose(squared_distances(e), torch.tensor([[0, 2, 4], [2, 0, 2], [4, 2, 0.0]]))


def test_semi_hard_mining_picks_the_closest_negative_further_than_the_positive():
    # anchor 0 and positive 1 at squared distance 1; negatives at 0.25, 2.25 and 9 from the anchor
    e = torch.tensor([[0.0], [1.0], [0.5], [1.5], [3.0]])
    labels = torch.tensor([0, 0, 1, 2, 3])
    # pairs (0, 1): semi-hard negative 2.25 -> max(0, 1 - 2.25 + 2) = 0.75
    #       (1, 0): negatives of 1 at 0.25, 0.25, 4 -> none further than 1 except 4: 1 - 4 + 2 = 0
    loss = semi_hard_triplet_loss(e, labels, margin=2.0)
    assert float(loss) == pytest.approx((0.75 + 0.0) / 2)


def test_without_semi_hard_negatives_the_easiest_negative_is_used():
    e = torch.tensor([[0.0], [3.0], [1.0], [2.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # every negative of each anchor is nearer than its positive (distance 9): use the furthest
    # (0,1): furthest negative of 0 is 4 -> 9-4+0.2; (1,0): furthest of 1 is 4 -> same
    # (2,3): d=1, negatives of 2: 1 and 4 -> semi-hard none > 1 except 4 -> 1-4+0.2 < 0
    # (3,2): negatives of 3: 4 and 1 -> 4 -> 0
    loss = semi_hard_triplet_loss(e, labels, margin=0.2)
    assert float(loss) == pytest.approx(2 * 5.2 / 4)


def test_a_batch_without_pairs_gives_zero_loss_with_a_gradient():
    e = torch.randn(4, 3, requires_grad=True)
    loss = semi_hard_triplet_loss(e, torch.arange(4))
    loss.backward()
    assert float(loss.detach()) == 0.0 and e.grad is not None


def test_face_input_is_standardized_and_empty_crops_refused():
    face = face_input(np.linspace(0, 1, 25 * 30).reshape(25, 30))
    assert face.shape == (1, 32, 32)
    assert abs(face.mean()) < 1e-5 and face.std() == pytest.approx(1, abs=1e-3)
    with pytest.raises(DataError, match="non-empty"):
        face_input(np.zeros((0, 5)))


def test_augment_is_seeded_and_stays_in_range():
    face = np.random.default_rng(0).random((25, 25))
    a = augment(face, np.random.default_rng(1))
    assert np.array_equal(a, augment(face, np.random.default_rng(1)))
    assert a.shape == face.shape and 0 <= a.min() and a.max() <= 1 and not np.allclose(a, face)


def test_roc_threshold_separates_distances():
    pairs = Verification(np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6, 0.25]))
    assert pairs.auc() == pytest.approx(8 / 9)
    assert 0.3 < pairs.best_threshold() < 0.5


def test_training_learns_identities(small_embedder, tmp_path):
    embedder, pairs = small_embedder
    m = embedder.metrics
    # Measured (seed 0): AUC 0.926 and closed-set accuracy 0.717 (43 of 60 probes) here; with
    # AVX2 or SSE kernels (another CPU's rounding) AUC 0.920-0.926 and accuracy 0.683-0.733;
    # seeds 1-3 give AUC 0.91-0.96 and accuracy 0.70-0.82. Untrained: AUC 0.69, and 1 in 20
    # identities is chance for the closed set.
    assert m["test_roc_auc"] > m["untrained_test_roc_auc"] + 0.1
    assert m["test_roc_auc"] > 0.88 and m["test_closed_set_accuracy"] > 0.6
    assert 0 < embedder.threshold < 2
    path = plot_roc(pairs, embedder.threshold, tmp_path / "roc.png")
    assert path.stat().st_size > 10_000


def test_saved_embedder_round_trips_and_bad_files_are_refused(small_embedder, tmp_path):
    embedder, _ = small_embedder
    loaded = load_embedder(embedder.save(tmp_path / "m.pt"))
    assert loaded.fingerprint == embedder.fingerprint == fingerprint(embedder.model)
    assert loaded.threshold == embedder.threshold
    (tmp_path / "bad.pt").write_text("not a model")
    with pytest.raises(DataError, match="bad.pt: not a face embedding model"):
        load_embedder(tmp_path / "bad.pt")
    with pytest.raises(DataError, match="no such model file"):
        load_embedder(tmp_path / "none.pt")
