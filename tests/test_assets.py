"""Static files: fingerprinted URLs cached for a year, compressed, old plain URLs still served."""

from __future__ import annotations

import gzip
import re

import brotli

from facilitator import assets
from facilitator.app import ROOT

STATIC = ROOT / "static"


def page_assets(client, path="/j"):
    html = client.get(path).get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_pages_link_static_files_under_the_fingerprint_of_the_static_folder(client):
    urls = page_assets(client)
    prefix = f"/static/{assets.fingerprint(STATIC)}/"
    assert urls and all(u.startswith(prefix) for u in urls)
    assert f"{prefix}js/phone.js" in urls


def test_the_fingerprint_changes_when_any_file_changes(tmp_path):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;")
    before = assets.fingerprint(tmp_path)
    (tmp_path / "js" / "a.js").write_text("export const a = 2;")
    assert assets.fingerprint(tmp_path) != before
    (tmp_path / "js" / "a.js").write_text("export const a = 1;")
    assert assets.fingerprint(tmp_path) == before
    (tmp_path / "js" / "b.js").write_text("")
    assert assets.fingerprint(tmp_path) != before


def test_a_fingerprinted_file_is_immutable_for_a_year_and_compressed(client):
    url = next(u for u in page_assets(client) if u.endswith("phone.js"))
    raw = (STATIC / "js" / "phone.js").read_bytes()
    for encoding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        r = client.get(url, headers={"Accept-Encoding": encoding})
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["Content-Encoding"] == encoding
        assert r.mimetype == "text/javascript"
        assert "Accept-Encoding" in r.headers["Vary"]
        body = r.get_data()
        assert len(body) < len(raw) / 2
        assert decode(body) == raw
    plain = client.get(url)  # a client that takes no compression gets the file as it is
    assert "Content-Encoding" not in plain.headers and plain.get_data() == raw


def test_modules_import_each_other_by_relative_path_so_imports_keep_the_fingerprint():
    for path in (STATIC / "js").rglob("*.js"):
        for target in re.findall(r'^import[^"]*"([^"]+)"', path.read_text(), re.M):
            assert target.startswith("."), f"{path.name} imports {target} by absolute path"


def test_the_plain_url_still_serves_the_file_but_revalidates(client):
    r = client.get("/static/js/phone.js")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache"
    again = client.get("/static/js/phone.js", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_nothing_outside_the_static_folder_is_served(client):
    prefix = f"/static/{assets.fingerprint(STATIC)}"
    for path in ("/../facilitator/app.py", "/%2e%2e/facilitator/app.py", "/js/nope.js",
                 "/../../etc/passwd"):
        assert client.get(prefix + path).status_code == 404
        assert client.get("/static" + path).status_code == 404


def test_an_old_fingerprint_after_a_redeploy_still_gets_the_current_file_briefly_cached(client):
    current = assets.fingerprint(STATIC)
    old = "0123456789" if current != "0123456789" else "9876543210"
    raw = (STATIC / "js" / "index.js").read_bytes()
    r = client.get(f"/static/{old}/js/index.js")
    assert r.status_code == 200 and r.get_data() == raw and r.mimetype == "text/javascript"
    assert r.headers["Cache-Control"] == f"public, max-age={assets.STALE_LIFETIME}"
    assert "immutable" not in r.headers["Cache-Control"] and assets.STALE_LIFETIME <= 3600
    again = client.get(f"/static/{old}/js/index.js", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    current_r = client.get(f"/static/{current}/js/index.js")
    assert "immutable" in current_r.headers["Cache-Control"]


def test_only_a_well_formed_fingerprint_is_taken_for_an_old_one(client):
    for path in ("/static/0123456789/js/no-such.js", "/static/012345678/js/index.js",
                 "/static/0123456789a/js/index.js", "/static/ABCDEF0123/js/index.js",
                 "/static/0123456789/../app.py", "/static/0123456789/%2e%2e/app.py",
                 "/static/0123456789/"):
        assert client.get(path).status_code == 404, path
