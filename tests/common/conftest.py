import pytest

from supervised.train import single_thread


@pytest.fixture(autouse=True)
def one_thread():
    """Small models train fastest on one thread (and the machine is shared)."""
    with single_thread():
        yield
