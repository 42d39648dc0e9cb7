import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Small models train fastest on one thread (and the machine is shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def small_embedder():
    """A quickly trained face embedder (few views, few epochs) shared by the face tests."""
    from supervised.face_embed import train_embedder

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    embedder, pairs = train_embedder(seed=0, epochs=6, views=4)
    torch.set_num_threads(previous)
    return embedder, pairs
