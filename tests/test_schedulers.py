"""Joining a dask cluster by address: bad addresses, endpoints that are not a scheduler."""

from __future__ import annotations

import gc
import http.server
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from siting.cli import main
from siting.datasets import write_demo_inputs
from siting.errors import ClusterError, ScenarioError
from siting.schedulers import _check_address, use_scheduler

# Generous: the deadline below is 1 s, and a hang is what these tests would catch.
WALL_BOUND_S = 15


def _free_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(reply: bytes | None) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts, then stays silent (None) or answers ``reply``
    to whatever it reads and hangs up; yields its ``tcp://`` address."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)  # to see the end of the test between connections
    over = threading.Event()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while not over.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            accepted.append(conn)
            if reply is not None:
                conn.recv(1024)
                conn.sendall(reply)
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        over.set()
        thread.join(5)
        server.close()
        for conn in accepted:
            conn.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    yield from _serve(None)


@pytest.fixture
def garbage_server() -> Iterator[str]:
    yield from _serve(b"HTTP/1.0 400 Bad request\r\nContent-Type: text/html\r\n\r\n<html>" * 4)


@pytest.fixture
def web_server() -> Iterator[str]:
    # One thread, started before the test looks at the threads running
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _refuse_to_join(address: str, monkeypatch: pytest.MonkeyPatch) -> ClusterError:
    """Join ``address`` with a 1 s deadline; check the failure is quick, clean and clear."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    threads_before = set(threading.enumerate())
    started = time.perf_counter()
    with (
        pytest.raises(ClusterError, match="cannot reach a dask scheduler") as caught,
        use_scheduler("distributed", address=address, timeout_s=1),
    ):
        pass
    assert time.perf_counter() - started < WALL_BOUND_S
    gc.collect()  # a client left half-connected would complain as it is collected
    assert not unraisable
    left = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert not left, f"threads left running: {left}"
    message = str(caught.value)
    assert repr(address) in message
    assert "dask scheduler" in message
    assert "--workers" in message
    assert "MemoryError" not in message
    return caught.value


def test_use_scheduler__silent_endpoint_is_a_cluster_error_within_the_deadline(
    silent_server, monkeypatch
):
    error = _refuse_to_join(silent_server, monkeypatch)
    assert "nothing answered as a dask scheduler within 1 s" in str(error)


def test_use_scheduler__garbage_reply_says_the_endpoint_is_not_dask(garbage_server, monkeypatch):
    error = _refuse_to_join(garbage_server, monkeypatch)
    assert "does not speak the dask protocol" in str(error)


def test_use_scheduler__web_server_is_a_cluster_error(web_server, monkeypatch):
    _refuse_to_join(web_server, monkeypatch)


def test_use_scheduler__closed_port_is_a_cluster_error_within_the_deadline(monkeypatch):
    error = _refuse_to_join(f"tcp://127.0.0.1:{_free_port()}", monkeypatch)
    assert "nothing answered as a dask scheduler within 1 s" in str(error)


def test_use_scheduler__joins_a_scheduler_and_refuses_its_worker(monkeypatch):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import dask.array as da

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        with use_scheduler("distributed", address=cluster.scheduler_address) as client:
            assert client.scheduler.address == cluster.scheduler_address
            assert int(da.ones(10, chunks=5).sum().compute()) == 10
        (worker,) = cluster.scheduler.workers
        error = _refuse_to_join(worker, monkeypatch)
    assert "not a scheduler (it is a Worker)" in str(error)


@pytest.mark.parametrize(
    "address",
    ["notaurl", "tcp://10.0.0.5", "10.0.0.5:", "tcp://:8786", "tcp://host:port", "tcp://h:0",
     "tcp://h:65536", "tcp://h:8786/status", "http://10.0.0.5:8787", "tcp://my host:8786", "",
     " ", 8786],
)  # fmt: skip
def test_use_scheduler__malformed_address_is_a_usage_error(address):
    with (
        pytest.raises(ScenarioError, match=r"expected tcp://host:port") as caught,
        use_scheduler("distributed", address=address),
    ):
        pass
    assert repr(address) in str(caught.value)


def test_use_scheduler__dashboard_address_says_it_is_not_the_scheduler():
    with (
        pytest.raises(ScenarioError, match="dashboard's, not the scheduler's"),
        use_scheduler("distributed", address="http://10.0.0.5:8787/status"),
    ):
        pass


@pytest.mark.parametrize(
    "address",
    ["tcp://10.0.0.5:8786", "10.0.0.5:8786", " tcp://sched.example:8786 ", "tls://host:8786",
     "TCP://host:1", "tcp://[::1]:8786", "ws://host:8786", "inproc://192.0.2.2/1234/1"],
)  # fmt: skip
def test_check_address__accepts_the_forms_dask_connects_to(address):
    _check_address(address)


@pytest.mark.parametrize("timeout_s", [0, -1, float("nan"), float("inf"), "5", True])
def test_use_scheduler__timeout_must_be_positive_seconds(timeout_s):
    with (
        pytest.raises(ScenarioError, match="positive number of seconds"),
        use_scheduler("distributed", address="tcp://10.0.0.5:8786", timeout_s=timeout_s),
    ):
        pass


def test_cli_run_with_a_malformed_address_exits_2_and_writes_nothing(tmp_path: Path):
    scenario_file = write_demo_inputs(tmp_path / "inputs")
    out = tmp_path / "out"
    args = ["run", str(scenario_file), "--out", str(out), "--scheduler", "distributed"]
    result = CliRunner().invoke(main, [*args, "--address", "notaurl"])
    assert result.exit_code == 2, result.output
    assert "tcp://host:port" in result.output
    assert not out.exists()
