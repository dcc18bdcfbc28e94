"""`shian search-node start|status|stop` on a real JVM in a temporary directory."""
from __future__ import annotations

import json
import os
import urllib.request
from urllib.parse import urlparse

from click.testing import CliRunner

from shian.cli import main
from shian.searchnode import alive, read_state
from tests.store.fixtures import search_url


def run(*args):
    return CliRunner().invoke(main, ["search-node", *args])


def test_start_status_stop(tmp_path):
    home = tmp_path / "node"
    try:
        started = run("start", "--dir", str(home), "--port", "0", "--heap", "512m", "--print-url")
        assert started.exit_code == 0, started.output
        url = started.stdout.strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/_cluster/health", timeout=10) as resp:
            assert json.load(resp)["status"] in ("green", "yellow")
        pid = read_state(home)["pid"]

        again = run("start", "--dir", str(home), "--port", "0")
        assert again.exit_code == 0 and again.stdout.strip() == url      # idempotent: same node

        status = run("status", "--dir", str(home))
        assert status.exit_code == 0 and url in status.stdout
        assert status.stdout.split()[0] in ("green", "yellow")
    finally:
        stopped = run("stop", "--dir", str(home))
    assert stopped.exit_code == 0 and "stopped" in stopped.stdout
    assert not alive(pid)
    assert run("status", "--dir", str(home)).exit_code == 1
    assert (home / "node.log").stat().st_size > 0


def test_start_refuses_a_port_that_is_taken(tmp_path):
    taken = urlparse(search_url()).port
    result = run("start", "--dir", str(tmp_path / "node"), "--port", str(taken))
    assert result.exit_code != 0
    assert "already answers" in result.output
    assert not (tmp_path / "node" / "node.json").exists()


def test_stop_when_not_running_says_so(tmp_path):
    result = run("stop", "--dir", str(tmp_path / "nothing"))
    assert result.exit_code == 0 and "not running" in result.stdout
    assert os.path.exists(tmp_path) and not (tmp_path / "nothing" / "node.json").exists()
