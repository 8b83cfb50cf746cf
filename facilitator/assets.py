"""Static files: fingerprinted URLs with a long cache lifetime, compressed once.

Every static URL carries a fingerprint of the whole static/ folder (``/static/3f9a0c12e4/js/
phone.js``). The page scripts are ES modules that import each other by relative path, so a
module's imports inherit its fingerprint: one changed file changes every URL, and a phone never
mixes an old module with a new one. Fingerprinted files are served with a one-year ``immutable``
lifetime; the plain ``/static/<file>`` URLs keep working with ``no-cache``. A URL under another
well-formed fingerprint (a page loaded before a redeploy asking for its modules) gets the current
file with a short lifetime (``STALE_LIFETIME``), never ``immutable``.

Compression is Flask-Compress's (brotli where the browser offers it, else gzip). Static
files are read into memory and compressed once per encoding; pages and JSON are compressed per
response (they are small and change).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request
from flask_compress import Compress

YEAR = 365 * 24 * 3600
FINGERPRINT_LENGTH = 10
STALE_LIFETIME = 300  # seconds an old fingerprint's URL may be cached (the file behind it changed)
_FINGERPRINT = re.compile(f"[0-9a-f]{{{FINGERPRINT_LENGTH}}}")


def fingerprint(folder: Path) -> str:
    """A short hash of every file's path and content under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def static_url_path(folder: Path) -> str:
    """The URL prefix of ``folder``'s files for Flask (``/static/<fingerprint>``)."""
    return f"/static/{fingerprint(folder)}"


class StaticCache:
    """Flask-Compress's cache backend: compressed static files, kept for the process's life.
    Other responses (pages, JSON) are never cached; their keys are ignored."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        """The compressed bytes for ``encoding;path``, if kept."""
        return self._data.get(key)

    def set(self, key: str, value: bytes) -> None:
        """Keep compressed bytes of a fingerprinted static file (nothing else)."""
        if key.split(";", 1)[-1].startswith(_STATIC_KEY_PREFIX):
            self._data[key] = value


_STATIC_KEY_PREFIX = "static:"


def _cache_key(req: Any) -> str:
    # Only the fingerprinted static files have a stable body per path.
    if req.endpoint == "static":
        return _STATIC_KEY_PREFIX + req.path
    return "dynamic:" + req.path


def init_app(app: Flask) -> None:
    """Serve static files from memory with cache headers, and compress responses."""
    folder = Path(app.static_folder or "static").resolve()
    files: dict[str, bytes] = {}

    def read(filename: str) -> tuple[bytes, str]:
        path = (folder / filename).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            abort(404)
        if filename not in files:
            files[filename] = path.read_bytes()
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix in (".js", ".mjs"):
            mimetype = "text/javascript"
        return files[filename], mimetype

    def fingerprinted(filename: str) -> Response:
        """A static file under the current fingerprint: cached for a year, never revalidated."""
        data, mimetype = read(filename)
        response = Response(data, mimetype=mimetype)
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response

    def plain(filename: str) -> Response:
        """A static file by its plain URL (old links): revalidated on each use. Under an old
        fingerprint (``<hash>/js/index.js``, from a page loaded before a redeploy): the
        current file, cached only briefly, so that page still loads its modules."""
        first, _, rest = filename.partition("/")
        stale = bool(rest) and _FINGERPRINT.fullmatch(first) is not None and not (
            folder / first).exists()
        data, mimetype = read(rest if stale else filename)
        response = Response(data, mimetype=mimetype)
        response.headers["Cache-Control"] = (
            f"public, max-age={STALE_LIFETIME}" if stale else "no-cache")
        response.add_etag()
        return response.make_conditional(request)

    app.view_functions["static"] = fingerprinted
    app.add_url_rule("/static/<path:filename>", "static_plain", plain)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_BR_LEVEL", 6)
    app.config.setdefault("COMPRESS_CACHE_BACKEND", StaticCache)
    app.config.setdefault("COMPRESS_CACHE_KEY", _cache_key)
    Compress(app)
