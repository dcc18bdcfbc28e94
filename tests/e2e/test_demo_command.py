"""`shian demo` (what `make demo` runs): crawls, then serves the UI with a login it prints."""
from __future__ import annotations

import re
import selectors
import signal
import subprocess
import sys



def read_until(proc, pattern: str, timeout: float = 600.0) -> re.Match:
    """Read the child's stdout line by line (unbuffered) until a line matches."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = []
    while True:
        assert sel.select(timeout), f"no output within {timeout}s; got {seen[-5:]}"
        line = proc.stdout.readline().decode()
        assert line, f"shian demo ended early: {seen[-5:]}"
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match


def test_demo_serves_the_queue_behind_the_login_it_prints(tmp_path, browser):
    proc = subprocess.Popen([sys.executable, "-m", "shian", "--data-dir", str(tmp_path), "demo",
                             "--listings", "100", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    try:
        found = read_until(proc, r"review UI: (http://127\.0\.0\.1:\d+/)\s+login: (\S+) / (\S+)")
        base, user, password = found.groups()
        context = browser.new_context()    # a real browser: the session cookie is Secure, as in production
        page = context.new_page()
        page.goto(base)
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_selector("text=审核队列")
        assert page.locator("tr[data-row]").count() >= 3    # flagged items from the crawls are listed
        context.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
