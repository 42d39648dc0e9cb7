import pytest

from supervised.train import single_thread


@pytest.fixture(autouse=True)
def one_thread():
    """Small models train fastest on one thread (and the machine is shared)."""
    with single_thread():
        yield


@pytest.fixture(scope="session")
def small_embedder():
    """A quickly trained face embedder (few views, few epochs) shared by the face tests."""
    from supervised.face_embed import train_embedder

    with single_thread():
        embedder, pairs = train_embedder(seed=0, epochs=6, views=4)
    return embedder, pairs
