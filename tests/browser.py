"""A real headless browser for the tests: Debian's chromium, pages served by a server that
records every request.

``render`` serves a page as ``/page.html`` inside a small harness (``/harness.html`` and its
``/check.js``, no inline script) whose script, once everything has loaded, writes what the
browser made of the page's images into the harness's DOM; chromium's ``--dump-dom`` prints it.
The page's own Content-Security-Policy does not bind the harness: it runs outside the frame.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=10000"]
HARNESS = (b'<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
           b'<script src="/check.js"></script></head>'
           b'<body><iframe id="page" src="/page.html" width="1200" height="800"></iframe></body></html>')
CHECK_JS = b"""
window.addEventListener("load", function () {
  var frame = document.getElementById("page").contentDocument;
  var images = Array.prototype.map.call(frame.images, function (image) {
    return {alt: image.alt, complete: image.complete, width: image.naturalWidth, height: image.naturalHeight,
            png: image.getAttribute("src").indexOf("data:image/png;base64,") === 0};
  });
  var out = document.createElement("pre");
  out.id = "result";
  out.textContent = JSON.stringify({title: frame.title, images: images, scripts: frame.scripts.length,
                                    text: frame.body.innerText.length});
  document.body.appendChild(out);
});
"""


def chromium() -> str:
    """The browser's path; skipped when it is missing, except in CI (where .ci/run installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "chromium is not installed (apt-get install -y chromium) so the pages are not rendered"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must render them")
        pytest.skip(reason)
    return found


@dataclass
class Rendered:
    """What the browser made of a page."""

    #: The page's title as the browser read it.
    title: str
    #: Per <img>: alt, complete, natural width and height, and whether its src is a data: PNG.
    images: list[dict]
    #: <script> elements in the page.
    scripts: int
    #: Length of the page's visible text.
    text_length: int
    #: Every path the browser asked the server for, in order.
    requests: list[str]


def render(page: bytes, tmp_path: Path) -> Rendered:
    browser = chromium()
    requests: list[str] = []
    files = {"/harness.html": (HARNESS, "text/html"), "/check.js": (CHECK_JS, "text/javascript"),
             "/page.html": (page, "text/html; charset=utf-8")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            requests.append(self.path)
            body, kind = files.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom",
             f"http://127.0.0.1:{server.server_address[1]}/harness.html"],
            capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the harness wrote no result; chromium said: {done.stderr[-2000:]}"
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                        .replace("&amp;", "&"))
    return Rendered(result["title"], result["images"], result["scripts"], result["text"], requests)
