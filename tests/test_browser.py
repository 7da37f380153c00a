"""Feedback pages in a real headless browser: no student script or event handler runs, nothing loads.

Each page is opened by Debian's Chromium (``--dump-dom`` after a virtual-time budget, so timers,
image loads and their ``onerror``/``onload`` handlers have had their chance), with a network log.
A hostile payload would set ``document.title`` or add a ``<canary>`` element if it ran, and would
fetch from a small HTTP server on 127.0.0.1 that counts hits if anything loaded. A control page
holding the same payloads without our escaping and without the Content-Security-Policy proves
the harness sees both when they happen. Chromium never reaches anything but 127.0.0.1
(``--host-resolver-rules``). Skipped without Chromium, except in CI, where it must be there
(``.ci/run`` installs it).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import nbformat
import pytest

from grader.reports.feedback import write_feedback
from grader.reports.html import render_html
from grader.reports.model import build_report
from grader.results import CheckResult, Note, SubmissionResult, Where

from conftest import SAMPLES

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        reason = "no headless Chromium here (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs it)")
        pytest.skip(reason)
    return found


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 that records every path requested from it."""
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], hits
    httpd.shutdown()
    httpd.server_close()


def payloads(port: int) -> str:
    return (f"<script>document.title='pwned-script'</script>"
            f"\"><img src=x onerror=\"document.title='pwned-onerror'\">"
            f"<img src=\"http://127.0.0.1:{port}/img\">"
            f"<svg onload=\"document.body.appendChild(document.createElement('canary'))\"></svg>"
            f"<iframe src=\"http://127.0.0.1:{port}/frame\"></iframe>"
            f"[click](javascript:document.title='pwned-link') `x`</code><b onmouseover=alert(1)>")


def open_in_browser(chromium: str, page, tmp_path) -> tuple[str, list[str]]:
    """The DOM after the page ran, and every request the page itself made (the browser's own
    background requests, which have no initiator, left out)."""
    profile, netlog = tmp_path / f"profile-{page.stem}", tmp_path / f"{page.stem}.netlog.json"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={profile}",
         f"--log-net-log={netlog}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    starts = [event.get("params", {}) for event in log["events"] if event["type"] == start]
    requests = [p["url"] for p in starts if "url" in p and p.get("initiator") != "not an origin"
                and not p["url"].startswith(("file:", "data:"))]
    return done.stdout, requests


def title_of(dom: str) -> str:
    return re.search(r"<title>(.*?)</title>", dom, re.S).group(1)


def assert_nothing_ran_or_loaded(dom: str, requests: list[str], hits: list[str]) -> None:
    assert not title_of(dom).startswith("pwned")  # a payload that ran sets the whole title to pwned-...
    assert "<canary>" not in dom and "<iframe" not in dom
    assert requests == [] and hits == []


def test_the_harness_sees_scripts_run_and_requests_made(chromium, server, tmp_path):
    port, hits = server
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><head><title>control</title></head><body>{payloads(port)}</body></html>")
    dom, requests = open_in_browser(chromium, control, tmp_path)
    assert title_of(dom).startswith("pwned") and "<canary></canary>" in dom
    assert "/img" in hits and f"http://127.0.0.1:{port}/img" in requests


def hostile_result(port: int, file: str, content_hash: str = "") -> SubmissionResult:
    text = payloads(port)
    where = Where(f"cell 3, line 1 {text}", cell=3, line=1, source=text)
    checks = [CheckResult("step_is_strict_at_zero", 0.0, 1.0, "failed", text, where=where, description=text),
              CheckResult("all_seven_activations", 0.0, 3.0, "error", text),
              CheckResult("xor_never_converges", 0.0, 2.0, "failed", text, visibility="hidden")]
    return SubmissionResult(student=f"ann{text}", assignment="perceptron", file=file, content_hash=content_hash,
                            score=0.0, max_score=6.0, status="graded", error=None, checks=checks,
                            notes=[Note(text, where)], output=text, submitted_at="2026-10-02T10:00:00+00:00",
                            submitted_at_source="mtime", days_late=1.0, penalty=1.0)


def test_report_page_runs_no_student_script_and_loads_nothing(chromium, server, tmp_path):
    port, hits = server
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(hostile_result(port, "/x/ann.py"), include_output=True)), encoding="utf-8")
    dom, requests = open_in_browser(chromium, page, tmp_path)
    assert_nothing_ran_or_loaded(dom, requests, hits)
    assert title_of(dom).startswith("perceptron: ann&lt;script&gt;")  # the id is shown, as text
    assert "document.title='pwned-onerror'" in dom  # the payloads are there, as text


def test_annotated_notebook_runs_no_student_script_and_loads_nothing(chromium, server, tmp_path):
    port, hits = server
    notebook = nbformat.read(SAMPLES / "perceptron" / "correct_nb.ipynb", as_version=4)
    text = payloads(port)
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"# Hi\n{text}\n![x](http://127.0.0.1:{port}/md)"))
    notebook.cells.append(nbformat.v4.new_raw_cell(text, metadata={"format": "text/html"}))
    notebook.cells.append(nbformat.v4.new_code_cell("show()", outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": text, "text/plain": text},
                               metadata={"text/html": {"onload": "document.title='pwned-meta'"}}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": f"<svg onload=\"document.title='pwned-svg'\">"
                                                                     f"<image href=\"http://127.0.0.1:{port}/svg\"/></svg>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "document.title='pwned-js'"}),
        nbformat.v4.new_output("stream", name="stdout", text=text)]))
    path = tmp_path / "ann.ipynb"
    nbformat.write(notebook, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    [written] = write_feedback([hostile_result(port, str(path), digest)], tmp_path / "out", include_output=True)
    assert not written.warnings
    page = next(p for p in written.paths if p.name.endswith(".notebook.html"))
    html = page.read_text(encoding="utf-8")
    assert f"127.0.0.1:{port}/md" in html  # the student's image is in the page: only the policy stops it
    dom, requests = open_in_browser(chromium, page, tmp_path)
    assert_nothing_ran_or_loaded(dom, requests, hits)
    for other in written.paths:
        if other.suffix == ".html" and other != page:
            dom, requests = open_in_browser(chromium, other, tmp_path)
            assert_nothing_ran_or_loaded(dom, requests, hits)
