"""Page weight of the participant's phone, measured with Chromium; writes its section of
bench/RESULTS.md.

Starts the server (``python -m facilitator serve``) on 127.0.0.1 with a fresh database, creates a
session, and opens the join page (what the QR code opens) in Debian's Chromium through Playwright
as a 390×844 phone. The bytes are what DevTools calls *transferred*: each response's
``encodedDataLength`` (headers and compressed body) from the Chrome DevTools Protocol, counted
until the page shows its join form with the socket online. Socket.IO's handshake requests count;
websocket frames do not.

- *first load*: a fresh browser profile (empty HTTP cache).
- *repeat load*: the same profile opens the page again (a participant scanning the code twice,
  or coming back to the page): fingerprinted static files come from the cache unasked.

Targets (issue 12): first load <= 70 KB, repeat load <= 10 KB.

    python bench/page_weight.py            # measure, print, update bench/RESULTS.md
    python bench/page_weight.py --no-write # measure and print only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FIRST_LIMIT_KB = 70
REPEAT_LIMIT_KB = 10
BEGIN, END = "<!-- page-weight -->", "<!-- /page-weight -->"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "facilitator", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--db", str(workdir / "weight.sqlite3"), "--public-url", url],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def create_session(url: str) -> str:
    body = json.dumps({"deck": "task-5-1", "groups": ["Table 1", "Table 2", "Table 3"]}).encode()
    req = urllib.request.Request(url + "/api/sessions", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["code"]


def load(context, url: str) -> list[dict]:
    """Open ``url`` in a new page of ``context``; each response's URL, size and cache use."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    seen: dict[str, dict] = {}
    cdp.on("Network.responseReceived", lambda e: seen.setdefault(e["requestId"], {}).update(
        url=e["response"]["url"], status=e["response"]["status"],
        encoding={k.lower(): v for k, v in e["response"]["headers"].items()}.get(
            "content-encoding", ""),
        cached=e["response"].get("fromDiskCache", False)
        or e["response"].get("fromMemoryCache", False)))
    cdp.on("Network.loadingFinished", lambda e: seen.setdefault(e["requestId"], {}).update(
        bytes=e["encodedDataLength"]))
    cdp.send("Network.enable")
    page.goto(url)
    page.wait_for_selector("#join-form")
    page.wait_for_selector("#conn[data-state=online]")
    page.wait_for_timeout(800)  # late requests (socket upgrade, favicon)
    page.close()
    return [dict(r, bytes=r.get("bytes", 0)) for r in seen.values() if "url" in r]


def short(url: str) -> str:
    path = re.sub(r"^https?://[^/]+", "", url)
    path = re.sub(r"/static/[0-9a-f]{10}/", "/static/…/", path)
    return re.sub(r"([?&])(sid|t)=[^&]+", r"\1\2=…", path)


def measure() -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp))
        try:
            code = create_session(url)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
                context = browser.new_context(**PHONE)
                first = load(context, f"{url}/j/{code}")
                repeat = load(context, f"{url}/j/{code}")
                version = browser.version
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return {"first": first, "repeat": repeat, "chromium": version}


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def section(result: dict) -> str:
    first = sum(r["bytes"] for r in result["first"])
    repeat = sum(r["bytes"] for r in result["repeat"])
    ok_first, ok_repeat = first <= FIRST_LIMIT_KB * 1024, repeat <= REPEAT_LIMIT_KB * 1024
    lines = [
        BEGIN,
        "## Page weight (the participant's phone)",
        "",
        f"Written by `bench/page_weight.py` on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
        " UTC:"
        f" Chromium {result['chromium']} as a 390×844 phone opens the join page over HTTP"
        " (127.0.0.1) until the join form shows with the socket online. Bytes transferred"
        " (DevTools' encodedDataLength: headers and compressed bodies), websocket frames not"
        " counted. Static files: fingerprinted URLs, `Cache-Control: public, max-age=31536000,"
        " immutable`, compressed once by Flask-Compress (brotli when the browser offers it,"
        " else gzip). Before: 157 KB uncompressed on every load, scripts `no-cache`.",
        "",
        "| load | requests | from cache | transferred (KB) | target (KB) | result |",
        "|---|---:|---:|---:|---:|---|",
        f"| first (empty cache) | {len(result['first'])} |"
        f" {sum(1 for r in result['first'] if r['cached'])} | {kb(first)} | <= {FIRST_LIMIT_KB}"
        f" | **{'pass' if ok_first else 'FAIL'}** |",
        f"| repeat (same profile) | {len(result['repeat'])} |"
        f" {sum(1 for r in result['repeat'] if r['cached'])} | {kb(repeat)} | <= {REPEAT_LIMIT_KB}"
        f" | **{'pass' if ok_repeat else 'FAIL'}** |",
        "",
        "First load, by response:",
        "",
        "| response | status | encoding | transferred (KB) |",
        "|---|---:|---|---:|",
    ]
    for r in sorted(result["first"], key=lambda r: -r["bytes"]):
        lines.append(f"| `{short(r['url'])}` | {r['status']} | {r['encoding'] or '–'} |"
                     f" {kb(r['bytes'])} |")
    lines += ["", END]
    return "\n".join(lines)


def write(text: str, path: Path, begin: str = BEGIN, end: str = END) -> None:
    """Put the section (between ``begin`` and ``end``) into RESULTS.md: replace the old one, or
    append; the rest is kept. bench/board.py writes its own section with it too."""
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    result = measure()
    text = section(result)
    print(text)
    if not args.no_write:
        write(text, args.out)
        print(f"wrote {args.out}")
    first = sum(r["bytes"] for r in result["first"])
    repeat = sum(r["bytes"] for r in result["repeat"])
    return 0 if first <= FIRST_LIMIT_KB * 1024 and repeat <= REPEAT_LIMIT_KB * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
