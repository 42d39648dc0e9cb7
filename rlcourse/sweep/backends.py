"""Where a sweep's units run: in this process, a local process pool, or Ray.

Every backend takes the same picklable function and units and yields ``(unit, result)`` as units
finish, in any order; the caller writes each result as it arrives, so a crash loses only the units
in flight. Results never depend on the backend: a unit's numbers come from its own seed alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import pickle
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from common.packages import import_installed
from rlcourse.errors import UsageError
from rlcourse.outputs import process_alive

BACKENDS = ("local", "ray")
CONNECT_TIMEOUT = 3.0
"""Seconds to wait for a Ray address to answer before giving up."""
RAY_OBJECT_STORE = 256 * 2**20
"""Object store of a Ray that the sweep starts itself (bytes; units' results are small)."""

LOCAL_ONLY_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch between a cluster (machine address) and one machine (loopback); "0" = loopback."""

Unit = TypeVar("Unit")


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def execute(
    function: Callable[[Unit], Any],
    units: Sequence[Unit],
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> Iterator[tuple[Unit, Any]]:
    """Run ``function(unit)`` for every unit; yield ``(unit, result)`` as each finishes.

    The backend is started when the first result is asked for (see :func:`connect`).

    Raises:
        UsageError: unknown backend, Ray missing, unreachable or not on loopback.
    """
    with connect(backend, workers, address) as run:
        yield from run(function, units)


Runner = Callable[[Callable[[Unit], Any], Sequence[Unit]], Iterator[tuple[Unit, Any]]]
"""``run(function, units)``: yields ``(unit, function(unit))`` in the order units finish."""


@contextlib.contextmanager
def connect(
    backend: str = "local", workers: int | None = None, address: str | None = None
) -> Iterator[Runner]:
    """Start (or join) a backend for a block; yield the function that runs units on it.

    Args:
        backend: ``local`` (``workers == 1`` runs in this process) or ``ray``.
        workers: parallel workers (default: every core). With ``ray`` and an ``address``, the
            cluster's size decides instead.
        address: a Ray cluster to connect to (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``);
            default ``RAY_ADDRESS``, else a local Ray is started on 127.0.0.1 (and stopped when
            the block ends).

    Raises:
        UsageError: unknown backend, Ray missing, unreachable or not on loopback.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r} (backends: {', '.join(BACKENDS)})")
    workers = workers or default_workers()
    if backend == "local":
        yield lambda function, units: _local(function, units, workers)
        return
    try:
        ray = import_installed("ray")
    except ImportError:
        raise UsageError(
            "the ray backend needs Ray: pip install 'rlcourse[ray]' (or use --backend local)"
        ) from None
    started = not ray.is_initialized()  # a Ray this process already runs is used as it is
    if started:
        init_ray(workers, address or os.environ.get("RAY_ADDRESS"))
    try:
        yield _ray
    finally:
        if started:
            ray.shutdown()


def _local(function, units, workers) -> Iterator:
    if workers == 1 or len(units) <= 1:
        for unit in units:
            yield unit, function(unit)
    else:
        yield from _pool(function, units, workers)


def _pool(function, units, workers) -> Iterator:
    """A process pool over ``workers`` cores; pending units are cancelled on error or interrupt."""
    pool = ProcessPoolExecutor(max_workers=min(workers, len(units)), initializer=_start_worker,
                               initargs=(os.getpid(),))  # fmt: skip
    try:
        pending = {pool.submit(function, unit): unit for unit in units}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                unit = pending.pop(future)
                yield unit, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent: int) -> None:
    """A pool worker: it ends with ``parent``, and runs one BLAS/OpenMP thread.

    The workers are the parallelism (Ray does the same).
    """
    from threadpoolctl import threadpool_limits

    end_with_parent(parent)
    threadpool_limits(1)


PR_SET_PDEATHSIG = 1
"""Linux's ``prctl`` option: the signal a process gets when its parent ends."""


def end_with_parent(parent: int, poll: float = 0.5) -> None:
    """Make this process end when its parent does (a killed sweep leaves no worker behind).

    On Linux the kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread
    polls :func:`os.getppid` every ``poll`` seconds. ``parent`` (the sweep's process) already
    gone ends it at once. (With a fork server, the parent is the server, which ends with the
    sweep.)
    """
    ppid = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            _watch_parent(ppid, poll)
    else:
        _watch_parent(ppid, poll)
    if os.getppid() != ppid or (ppid != parent and not process_alive(parent)):
        os._exit(1)  # it ended before the signal was asked for


def _watch_parent(ppid: int, poll: float) -> None:
    def watch() -> None:
        while os.getppid() == ppid:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="end-with-parent").start()


def _ray(function, units) -> Iterator:
    """Units as Ray tasks on the Ray this process is connected to; pending ones cancelled."""
    import ray

    remote = ray.remote(num_cpus=1, max_retries=0)(_project_first(function))
    pending = {remote.remote(pickle.dumps(unit)): unit for unit in units}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                unit = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as err:
                    cause = getattr(err, "cause", None)
                    if isinstance(cause, UsageError):
                        raise UsageError(str(cause)) from None
                    raise
                yield unit, result
    finally:
        for ref in pending:
            ray.cancel(ref)


def _project_first(function: Callable) -> Callable[[bytes], Any]:
    """``function`` as a Ray task that imports nothing from the working folder.

    Ray puts the driver's working folder first on its workers' path, where a ``gymnasium.py``
    or ``agents.py`` would be imported instead of the installed package. The task is a closure,
    so Ray sends it by value and it runs before the worker imports anything of rlcourse: it
    takes the working folders (the driver's, its own) off the path (a ``module:Class`` env is
    still found in its own, last, as in this process), then imports ``function`` and unpickles
    its unit (sent as bytes so that Ray does not import the unit's class first).
    """
    module, name = function.__module__, function.__qualname__
    driver = os.path.realpath(os.getcwd())

    def task(payload: bytes) -> Any:
        import importlib
        import os
        import pickle
        import sys

        folders = {driver, os.path.realpath(os.getcwd())}  # a cluster's workers run elsewhere
        sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or ".") not in folders]
        target = getattr(importlib.import_module(module), name)
        return target(pickle.loads(payload))

    return task


def init_ray(workers: int | None = None, address: str | None = None) -> None:
    """Connect to ``address``, or start a local Ray that listens on 127.0.0.1 only.

    Raises:
        UsageError: the address is malformed or does not answer within seconds, or the local
            Ray is not on loopback alone (see :func:`check_loopback`).
    """
    import ray

    quiet = {"log_to_driver": False, "logging_level": "ERROR"}
    if address:
        host = check_reachable(address)
        if host is not None and not address.startswith("ray://"):
            _check_gcs(address)
        try:
            with _loopback_only(ray) if _is_loopback(host) else contextlib.nullcontext():
                ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, TimeoutError) as err:
            raise UsageError(f"cannot connect to Ray at {address}: {_first_line(err)}") from None
        return
    with _loopback_only(ray):
        ray.init(
            num_cpus=workers or default_workers(),
            object_store_memory=RAY_OBJECT_STORE,
            include_dashboard=False,
            **quiet,
        )
    check_loopback()


def check_loopback() -> None:
    """Refuse (and shut down) the local Ray this process started unless it is on loopback alone.

    A Ray reachable from the network runs whatever task anyone who reaches it sends. Ray's
    start-up on 127.0.0.1 (:func:`_loopback_only`) relies on Ray internals that a new Ray release
    may change (hence the upper bound of ``ray`` in pyproject.toml), so the addresses it really
    took are checked: the GCS address of the runtime context and every node's address.

    Raises:
        UsageError: an address that is not loopback; Ray has been shut down.
    """
    import ray

    hosts = {ray.get_runtime_context().gcs_address.rpartition(":")[0].strip("[]")}
    hosts |= {str(node.get("NodeManagerAddress")) for node in ray.nodes()}
    exposed = sorted(host for host in hosts if not _is_loopback(host))
    if exposed:
        ray.shutdown()
        raise UsageError(
            f"the local Ray (ray {ray.__version__}) started on {', '.join(exposed)}, not on "
            "127.0.0.1 alone, where other machines could send it work; it was shut down. Use "
            "--backend local, or start a Ray cluster yourself and pass --address"
        )


@contextlib.contextmanager
def _loopback_only(ray):
    """Make the Ray that ``ray.init`` starts (or joins) live on 127.0.0.1 alone.

    Ray on Linux advertises (and binds its gRPC servers to) the machine's address, even when told
    ``_node_ip_address="127.0.0.1"``, and rewrites a loopback address to join into the machine's
    address. Its single-machine mode (the default on macOS and Windows) uses the loopback address
    instead; the variable switches it on for the processes Ray starts, and the constant for this
    one (read when ``ray`` was imported).
    """
    from ray._private import ray_constants

    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with _environment({LOCAL_ONLY_VARIABLE: "0"}):
            yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables (for Ray's processes) for the duration of a block."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Fail fast, with one line, when nothing answers at a Ray ``HOST:PORT`` address.

    ``auto`` (the cluster this machine belongs to) is left to Ray, which fails at once without one.

    Returns:
        The host (None for ``auto``).

    Raises:
        UsageError: malformed address, unknown host, or no answer within ``timeout`` seconds.
    """
    if address == "auto":
        return None
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"Ray address {address!r} is not HOST:PORT (or ray://HOST:PORT, auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        reason = "no answer" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise UsageError(
            f"cannot reach Ray at {address} ({reason} within {timeout:g} s); start the cluster "
            "(ray start --head) or drop --address to run a local Ray"
        ) from None
    return host.strip("[]")


def _check_gcs(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Ask the cluster's GCS for its id; Ray's own join would retry for minutes on a wrong port.

    Raises:
        UsageError: no Ray GCS answered within ``timeout`` seconds.
    """
    from ray._raylet import GcsClient

    answer: dict[str, object] = {}

    def probe() -> None:
        try:
            answer["id"] = GcsClient(address=address).cluster_id
        except Exception as err:  # Ray's own errors: any of them means "not a cluster"
            answer["error"] = err

    thread = threading.Thread(target=probe, daemon=True)
    with _quiet_stderr():  # Ray's C++ client logs its own retries there
        thread.start()
        thread.join(timeout)
    if "id" not in answer:
        reason = _first_line(answer["error"]) if "error" in answer else f"within {timeout:g} s"
        raise UsageError(
            f"no Ray cluster answers at {address} ({reason}); check the address (the head's "
            "GCS port, 6379 by default)"
        )


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 (where C++ code writes) to /dev/null for a block."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
