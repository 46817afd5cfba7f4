"""`showroom cluster` refusing clearly before it starts anything, and the nginx configuration it writes being one
that nginx accepts (no PostgreSQL, Redis or renders needed)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from render_node.commands._cluster_parts import check_nginx_conf, find_nginx, nginx_conf
from render_node.commands._cluster_run import ClusterError


def _cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "render_node", "cluster", *args], capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def test_up_names_the_port_in_use_and_the_flag_that_moves_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        front, edge_2, commerce, payments = _unused_ports(4)  # the other parts' ports: free, not neighbours
        result = _cli("up", "--state-dir", str(tmp_path), "--port", str(front), "--edge-ports", f"{port},{edge_2}",
                      "--commerce-port", str(commerce), "--payments-port", str(payments))
    assert result.returncode == 2
    assert f"port {port} (edge-1) is not free" in result.stderr and "--edge-ports" in result.stderr
    assert not (tmp_path / "cluster.json").exists(), "nothing started"


def test_up_with_private_services_names_their_ports_when_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        front, edge_1, edge_2, commerce, payments, redis = _unused_ports(6)
        result = _cli("up", "--state-dir", str(tmp_path), "--private-services", "--port", str(front), "--edge-ports",
                      f"{edge_1},{edge_2}", "--commerce-port", str(commerce), "--payments-port", str(payments),
                      "--postgres-port", str(port), "--redis-port", str(redis))
    assert result.returncode == 2
    assert f"port {port} (postgres) is not free" in result.stderr and "--postgres-port" in result.stderr
    assert not (tmp_path / "cluster.json").exists(), "nothing started"


def test_up_says_what_to_install_without_nginx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from render_node.commands import _cluster_parts

    result = _cli("up", "--state-dir", str(tmp_path), "--port", str(_free_port()), "--nginx", str(tmp_path / "no"))
    assert result.returncode == 2 and "--nginx" in result.stderr and "no such file" in result.stderr
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(_cluster_parts, "NGINX_CANDIDATES", ())
    with pytest.raises(ClusterError, match="apt-get install nginx-light"):
        find_nginx(None)


def _unused_ports(n: int) -> list[int]:
    """`n` distinct ports the kernel just handed out (and took back): unlike a taken port's neighbours, free."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _free_port() -> int:
    """A port whose neighbours (+1, +2, +10, +11: the cluster's other parts) are very likely free too."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1]) - 20 if s.getsockname()[1] > 30000 else int(s.getsockname()[1])


def test_down_and_status_without_a_cluster_are_calm(tmp_path: Path) -> None:
    down = _cli("down", "--state-dir", str(tmp_path))
    assert down.returncode == 0 and "nothing to stop" in down.stdout
    status = _cli("status", "--state-dir", str(tmp_path), "--json")
    assert status.returncode == 1 and '"running": false' in status.stdout


def test_the_cluster_nginx_configuration_is_complete_and_accepted_by_nginx(tmp_path: Path) -> None:
    try:
        nginx = find_nginx(None)
    except ClusterError as exc:
        pytest.skip(exc.message)
    (tmp_path / "logs").mkdir()
    conf = nginx_conf(tmp_path, port=18000, edge_ports=(18001, 18002), commerce_port=18010)
    text = conf.read_text()
    assert "@@" not in text
    assert text.count("server 127.0.0.1:18001 max_fails=1 fail_timeout=10s;") == 3  # any-edge, streams, advisor
    assert "server 127.0.0.1:18002 max_fails=1 fail_timeout=10s backup;" in text  # advisor calls: the first edge
    check_nginx_conf(nginx, tmp_path, conf)
