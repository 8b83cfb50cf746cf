"""Behind a real proxy: Debian's nginx, with docs/deploy/nginx-facilitator.conf (the file
docs/deploy.md shows) and a self-signed certificate made here, in front of the real server.

nginx runs as a non-daemon subprocess with its own prefix, configuration, pid and logs in a
temporary directory, on a free port on 127.0.0.1; the system service is never touched.
Phones connect over wss (and over https long-polling) through it. The app believes
X-Forwarded-* from 127.0.0.1 only (FACILITATOR_TRUSTED_PROXIES), so: cookies are Secure and
HSTS is sent behind https, throttles key on the client's own address (phones reach nginx from
127.0.0.1 and 127.0.0.2), and the QR code carries the public https URL.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import segno
import socketio
from driver import ROOT, LiveServer, free_port, run_async

pytestmark = [pytest.mark.server]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl")
SITE = ROOT / "docs" / "deploy" / "nginx-facilitator.conf"

if not (os.path.exists(NGINX) and OPENSSL):
    if os.environ.get("CI") or os.environ.get("REQUIRE_NGINX"):
        raise RuntimeError("tests/test_nginx.py needs nginx and openssl (.ci/run installs them)")
    pytest.skip("nginx or openssl is not installed (CI installs both)", allow_module_level=True)


def site_conf(port: int, upstream: int, cert: Path, key: Path) -> str:
    """The deploy file with only its MARKed lines changed."""
    text = SITE.read_text()
    replacements = {
        "listen": f"listen 127.0.0.1:{port} ssl;",
        "server_name": "server_name 127.0.0.1;",
        "cert": f"ssl_certificate {cert};",
        "key": f"ssl_certificate_key {key};",
        "upstream": f"proxy_pass http://127.0.0.1:{upstream};",
    }
    lines = text.splitlines()
    for mark, line in replacements.items():
        hits = [i for i, old in enumerate(lines) if old.rstrip().endswith(f"# MARK: {mark}")]
        assert len(hits) == 1, mark
        lines[hits[0]] = "    " + line
    return "\n".join(lines) + "\n"


class Nginx:
    """nginx -p <tmp> -c <tmp>/nginx.conf -g 'daemon off;' on a free loopback port."""

    def __init__(self, tmp: Path, upstream: int) -> None:
        self.tmp, self.port = tmp, free_port()
        self.cert, self.key = tmp / "cert.pem", tmp / "key.pem"
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        (tmp / "logs").mkdir()
        (tmp / "site.conf").write_text(site_conf(self.port, upstream, self.cert, self.key))
        temp_paths = "\n".join(f"    {kind}_temp_path {tmp}/{kind};"
                               for kind in ("client_body", "proxy"))
        (tmp / "nginx.conf").write_text(
            f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/logs/error.log warn;\n"
            "events { worker_connections 512; }\n"
            f"http {{\n    access_log off;\n{temp_paths}\n    include {tmp}/site.conf;\n}}\n")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e",
             str(tmp / "logs" / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.url = f"https://127.0.0.1:{self.port}"
        self.ssl = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode()
                                   + (tmp / "logs" / "error.log").read_text())
            try:
                self.request("GET", "/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def request(self, method: str, path: str, body: dict | None = None, source: str = "127.0.0.1",
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One https request through nginx from ``source``; (status, headers, body)."""
        return exchange(http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.ssl, timeout=10, source_address=(source, 0)),
            method, path, body, headers)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """(app server, nginx): the app trusts 127.0.0.1 as its proxy and guesses its own URL."""
    tmp = tmp_path_factory.mktemp("nginx")
    app = LiveServer(tmp / "app.sqlite3", tmp / "server.log", crowd=False, public_url=False,
                     env={"FACILITATOR_TRUSTED_PROXIES": "127.0.0.1"})
    app.start()
    nginx = None
    try:
        nginx = Nginx(tmp, app.port)
        yield app, nginx
    finally:
        if nginx:
            nginx.stop()
        app.stop()


def direct(app: LiveServer, method: str, path: str, body: dict | None = None,
           headers: dict | None = None) -> tuple[int, dict, bytes]:
    """A request straight to the app (not through nginx), from 127.0.0.3: a client that is
    not the trusted proxy (127.0.0.1, where nginx connects from)."""
    return exchange(http.client.HTTPConnection("127.0.0.1", app.port, timeout=10,
                                               source_address=(UNTRUSTED, 0)),
                    method, path, body, headers)


def exchange(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None,
             headers: dict | None) -> tuple[int, dict, bytes]:
    """One request on ``conn`` (then closed); (status, lower-case headers, body)."""
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={
            **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


BODY = {"deck": "task-5-1", "groups": ["Table 1", "Table 2"]}
UNTRUSTED = "127.0.0.3"


def test_the_deploy_guide_shows_the_file_this_test_runs():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert SITE.read_text().strip() in guide


def test_phones_answer_over_wss_and_https_polling_through_nginx(proxied):
    app, nginx = proxied
    status, _, body = nginx.request("POST", "/api/sessions", BODY)
    assert status == 201, body
    info = json.loads(body)

    async def scenario() -> list[dict]:
        connector = aiohttp.TCPConnector(ssl=nginx.ssl)
        async with aiohttp.ClientSession(connector=connector) as http_session:
            console = socketio.AsyncClient(reconnection=False, http_session=http_session)
            await console.connect(nginx.url, transports=["websocket"], wait_timeout=10)
            token = info["facilitator_token"]
            assert (await console.call("facilitate", {"token": token}, timeout=10))["ok"]
            assert (await console.call("open_step", {"token": token, "step": "discard"},
                                       timeout=10))["ok"]
            phones, acks = [], []
            for k in range(6):
                phone = socketio.AsyncClient(reconnection=False, http_session=http_session)
                # half straight to wss, half polling over https first, then the upgrade
                transports = ["websocket"] if k % 2 else ["polling", "websocket"]
                await phone.connect(nginx.url, transports=transports, wait_timeout=10)
                joined = await phone.call("join", {"code": info["code"], "name": f"P{k}",
                                                   "group": 1 + k % 2}, timeout=10)
                assert joined["ok"], joined
                acks.append(await phone.call("submit", {
                    "token": joined["token"], "step": "discard", "answer": 1 + k, "id": "a"},
                    timeout=10))
                phones.append(phone)
            assert {p.transport() for p in phones} == {"websocket"}
            snapshot = (await console.call("facilitate", {"token": token}, timeout=10))
            for client in (console, *phones):
                await client.disconnect()
            return acks + [snapshot]

    results = run_async(scenario())
    assert all(a["ok"] for a in results), results


def test_behind_https_cookies_are_secure_and_hsts_is_sent(proxied):
    app, nginx = proxied
    status, headers, _ = nginx.request("GET", "/organiser")
    assert status == 200
    assert "secure" in headers["set-cookie"].lower()
    assert headers["strict-transport-security"].startswith("max-age=")
    # straight to the app over http: neither (and a forged X-Forwarded-Proto changes nothing)
    for forged in ({}, {"X-Forwarded-Proto": "https"}):
        status, headers, _ = direct(app, "GET", "/organiser", headers=forged)
        assert status == 200
        assert "secure" not in headers["set-cookie"].lower()
        assert "strict-transport-security" not in headers


def test_the_join_link_and_qr_code_carry_the_public_https_url(proxied):
    app, nginx = proxied
    status, _, body = nginx.request("POST", "/api/sessions", BODY)
    info = json.loads(body)
    assert info["join_url"] == f"{nginx.url}/j/{info['code']}"
    status, _, svg = nginx.request("GET", f"/qr/{info['code']}.svg")
    assert status == 200
    expected = segno.make(f"{nginx.url}/j/{info['code']}", error="m")
    assert expected.designator in ("3-M", "4-M", "2-M")
    assert svg == _svg(expected, info["code"])
    # the projector shows that link under its QR code (live snapshots carry no join link)
    status, _, page = nginx.request("GET", info["projector_url"])
    assert status == 200
    assert f'data-join-url="{nginx.url}/j/{info["code"]}"'.encode() in page
    # straight to the app, forged headers are dropped: its own (guessed) URL
    status, _, body = direct(app, "POST", "/api/sessions", BODY,
                             headers={"X-Forwarded-Host": "evil.example",
                                      "X-Forwarded-Proto": "https"})
    assert json.loads(body)["join_url"].startswith(f"http://127.0.0.1:{app.port}/j/")


def _svg(qr, code: str) -> bytes:
    import io

    out = io.BytesIO()
    qr.save(out, kind="svg", scale=10, border=2, dark="#000", light="#fff", xmldecl=False,
            svgns=True, title="Join code " + code)
    return out.getvalue()


def test_throttles_key_on_the_client_address_not_the_proxys(proxied):
    app, nginx = proxied
    status, _, body = nginx.request("POST", "/api/sessions", BODY, source="127.0.0.1")
    code = json.loads(body)["code"]
    for k in range(10):
        status, _, _ = nginx.request("GET", f"/qr/ZZZZZZZ{k % 8 + 2}.svg", source="127.0.0.2")
        assert status == 404
    assert nginx.request("GET", f"/qr/{code}.svg", source="127.0.0.2")[0] == 429
    # the phone next to it, behind the same proxy, is not blocked
    assert nginx.request("GET", f"/qr/{code}.svg", source="127.0.0.1")[0] == 200
    # a client talking to the app directly cannot pick its address with X-Forwarded-For
    for k in range(10):
        direct(app, "GET", f"/qr/YYYYYYY{k % 8 + 2}.svg",
               headers={"X-Forwarded-For": f"10.0.0.{k}"})
    assert direct(app, "GET", f"/qr/{code}.svg",
                  headers={"X-Forwarded-For": "10.0.0.99"})[0] == 429


def test_the_proxy_is_not_held_to_the_per_address_connection_cap(proxied):
    """Every phone reaches the app from nginx's address: 100 websockets held open at once
    (50 from each of two client addresses, under nginx's own 64 per client) all connect,
    though the app's cap is 64 per address."""
    app, nginx = proxied

    async def many() -> list[str]:
        sessions, opened = [], []
        try:
            for source in ("127.0.0.1", "127.0.0.2"):
                connector = aiohttp.TCPConnector(ssl=nginx.ssl, limit=0,
                                                 local_addr=(source, 0))
                sessions.append(aiohttp.ClientSession(connector=connector))
            url = nginx.url.replace("https", "wss") + "/socket.io/?EIO=4&transport=websocket"

            async def one(session) -> str:
                ws = await asyncio.wait_for(session.ws_connect(url), 10)
                opened.append(ws)
                message = await ws.receive(timeout=10)
                return message.data[:1]

            return await asyncio.gather(*(one(sessions[k % 2]) for k in range(100)))
        finally:
            for ws in opened:
                await ws.close()
            for session in sessions:
                await session.close()

    assert run_async(many()) == ["0"] * 100
