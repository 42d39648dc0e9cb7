"""Flat parameters and flushed denormals: the same numbers as the plain way."""

import torch

from common.parameters import FlatParameters, flush_denormals


def test_flat_parameters_train_exactly_like_per_layer_tensors():
    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

    plain, flat_model = model(), model()
    flat = FlatParameters(flat_model)
    assert flat.values.shape == (3 * 16 + 16 + 16 * 2 + 2,)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=0.1)
    flat_opt = torch.optim.Adam([flat.values], lr=0.1)
    x, y = torch.randn(32, 3), torch.randn(32, 2) * 100  # large errors: clipping bites
    for _ in range(5):
        plain_opt.zero_grad()
        torch.nn.functional.mse_loss(plain(x), y).backward()
        expected = torch.nn.utils.clip_grad_norm_(plain.parameters(), 1.0)
        plain_opt.step()
        flat.zero_grad()
        torch.nn.functional.mse_loss(flat_model(x), y).backward()
        torch.testing.assert_close(flat.clip_grad_norm_(1.0), expected)
        flat_opt.step()
    for a, b in zip(plain.parameters(), flat_model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    flat_model.load_state_dict(plain.state_dict())  # loading keeps the views
    assert flat_model[0].weight.data_ptr() == flat.values.data_ptr()


def test_flush_denormals_zeroes_them_inside_the_block_only():
    tiny = torch.tensor([1e-40, 1.0])  # 1e-40 is a denormal float32
    with flush_denormals() as supported:
        inside = tiny * 1.0
    outside = tiny * 1.0
    if supported:
        assert inside.tolist() == [0.0, 1.0]
    assert outside[0].item() > 0.0
