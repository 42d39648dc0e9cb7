import numpy as np
import pytest
import torch
from skimage import data

from supervised.data import DataError
from supervised.face import crop_set, lbp_comparison, lbp_faces, precision_recall
from supervised.face_detect import (
    ONet,
    PNet,
    RNet,
    detect,
    facenet_weights_dir,
    iou,
    load_detector,
    nms,
    pretrained_state,
    pyramid,
    regress,
    square,
    train_detector,
)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 5, 5.0]])
    scores = torch.tensor([0.8, 0.9, 0.7, 0.6])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 3]  # box 3 overlaps box 1 by IoU 0.16
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [1, 2]  # but lies inside it
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []


def test_iou_regress_square():
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    boxes = torch.tensor([[10.0, 20, 30, 60]])
    moved = regress(boxes, torch.tensor([[0.1, -0.1, 0.0, 0.5]]))
    assert moved.tolist() == [[12.0, 16.0, 30.0, 80.0]]
    assert square(boxes).tolist() == [[0.0, 20.0, 40.0, 60.0]]


def test_pyramid_spans_min_face_to_whole_image():
    scales = pyramid(100, 200, min_face=20)
    assert scales[0] == pytest.approx(0.6)
    assert 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709


@pytest.mark.parametrize("network", [PNet, RNet, ONet])
def test_pretrained_weights_map_onto_our_layers(network):
    folder = facenet_weights_dir()
    name = {PNet: "pnet.pt", RNet: "rnet.pt", ONet: "onet.pt"}[network]
    state = torch.load(folder / name, weights_only=True)
    mapped = pretrained_state(network, state)
    assert mapped.keys() == network().state_dict().keys()
    assert torch.equal(
        mapped["classify.weight"],
        state[network.pretrained[-2 if network is not ONet else -3] + ".weight"],
    )


def test_wrong_weights_are_refused():
    with pytest.raises(DataError, match="do not fit RNet"):
        pretrained_state(RNet, PNet().state_dict())


def test_astronaut_has_one_face_where_the_lbp_cascade_finds_it():
    image = data.astronaut()
    faces = detect(image)
    assert len(faces) == 1
    x0, y0, x1, y1, score = faces[0]
    assert score > 0.9
    [lbp] = lbp_faces(image, min_size=60, max_size=123)
    assert iou(faces[0], lbp) >= 0.5


def test_no_face_in_coins_and_empty_images_refused():
    assert detect(data.coins()) == []
    with pytest.raises(DataError, match="expected an"):
        detect(np.zeros((0, 10, 3)))
    with pytest.raises(DataError, match="3 colour channels"):
        detect(np.zeros((30, 30, 2)))


def test_precision_and_recall_against_lbp_on_crops():
    crops, truth = crop_set(8)
    assert crops.shape == (16, 160, 160) and truth.sum() == 8
    assert precision_recall(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool)) == (
        0.5,
        0.5,
    )
    scores = lbp_comparison(n=8)
    assert scores["mtcnn_precision"] == 1.0 and scores["mtcnn_recall"] >= 0.875
    assert scores["mtcnn_recall"] >= scores["lbp_recall"] - 0.125


def test_missing_weights_fall_back_to_a_cascade_trained_on_lfw(tmp_path, monkeypatch):
    import supervised.face_detect as fd

    accuracies = {}

    def small(seed=0):
        detector, scores = train_detector(seed=seed, epochs=4, copies=1)
        accuracies.update(scores)
        return detector, scores

    monkeypatch.setattr(fd, "train_detector", small)
    monkeypatch.setattr(fd, "facenet_weights_dir", lambda: tmp_path / "missing")
    with pytest.warns(UserWarning, match="no MTCNN weights in .*missing"):
        detector = load_detector()
    assert detector.source.startswith("trained from scratch")
    # held-out lfw faces and non-faces (jittered crops) are told apart
    assert min(accuracies.values()) >= 0.8, accuracies
    boxes = detect(np.pad(data.lfw_subset()[90], 12, mode="edge"), detector, min_face=20)
    assert all(len(box) == 5 and 0 <= box[4] <= 1 for box in boxes)


def test_named_weights_must_all_be_there(tmp_path, monkeypatch):
    import supervised.face_detect as fd

    monkeypatch.setattr(fd, "train_detector", lambda seed=0: pytest.fail("trained from scratch"))
    with pytest.raises(DataError) as missing:
        load_detector(tmp_path / "missing")
    assert str(missing.value) == (
        f"{tmp_path / 'missing'}: no such folder of MTCNN weights (pnet.pt, rnet.pt, onet.pt)"
    )
    torch.save(PNet().state_dict(), tmp_path / "pnet.pt")
    with pytest.raises(DataError) as partial:
        load_detector(tmp_path)
    assert str(partial.value) == (
        f"{tmp_path}: no rnet.pt, onet.pt (a folder of MTCNN weights holds pnet.pt, rnet.pt, "
        "onet.pt)"
    )
    torch.save({}, tmp_path / "rnet.pt")
    torch.save({}, tmp_path / "onet.pt")
    with pytest.raises(DataError) as ours:  # our layer names, not facenet-pytorch's
        load_detector(tmp_path)
    assert str(ours.value) == (
        f"{tmp_path / 'pnet.pt'}: the weights do not fit PNet (other layers or shapes)"
    )
    torch.save(torch.zeros(3), tmp_path / "pnet.pt")
    with pytest.raises(DataError) as tensor:
        load_detector(tmp_path)
    assert str(tensor.value) == f"{tmp_path / 'pnet.pt'}: not a state dict but Tensor"
