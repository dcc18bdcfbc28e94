"""`python -m demo.sites` serves the three platforms standalone until interrupted."""
from __future__ import annotations

import selectors
import signal
import subprocess
import sys

from demo_http import text


def _read_lines(proc, n: int, timeout: float = 60.0) -> list[str]:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    lines: list[str] = []
    while len(lines) < n:
        assert sel.select(timeout), f"no output within {timeout}s; got {lines}"
        line = proc.stdout.readline()
        assert line, f"process ended early: {lines}"
        lines.append(line.decode().strip())
    return lines


def test_module_serves_three_sites_and_stops_on_ctrl_c(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "demo.sites", "--listings", "100", "--seed", "4",
                             "--room-seconds", "5", "--registry-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        lines = _read_lines(proc, 5)
        assert lines[0].startswith("registry ") and (tmp_path / "licences.csv").exists()
        urls = dict(line.split(" ", 1) for line in lines[2:])
        assert set(urls) == {"shop", "spa", "live"}
        assert "category-link" in text(urls["shop"] + "/")[1]
        assert '<div id="app"></div>' in text(urls["spa"] + "/")[1]
        assert "room-link" in text(urls["live"] + "/")[1]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_bad_fault_spec_is_refused_before_serving():
    proc = subprocess.run([sys.executable, "-m", "demo.sites", "--faults", "404:every=2"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert b"unknown fault" in proc.stderr


def test_load_client_measures_a_running_site():
    from demo.load import capacity
    from demo.seed import generate
    from demo.sites import start_site

    ds = generate(200, seed=2)
    with start_site("shop", ds) as site:
        paths = [f"/item/{x.id}" for x in ds.by_platform("shop")]
        result = capacity(site.url, paths, seconds=1.0, processes=1, threads=2)
        served = site.hits("/item/")
    assert result["pages"] > 0 and result["errors"] == 0
    assert served >= result["pages"]
