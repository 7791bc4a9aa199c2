"""The operators' console: one anonymous HTTP function serving its static assets.

The assets are public (no data in them); everything the console shows it reads from the public
API with the caller's own credential, as any script could. `/api/console` redirects to
`/api/console/` (relative, so a gateway's path prefix is kept) so that the page's relative links
(`console.js`, `../jobs`) resolve under the API.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

import azure.functions as func

from jobs_api.console.assets import console_css, console_js, index_html

bp = func.Blueprint()

# The page may load only its own script and style and talk only to its own origin: no inline
# script, no third party, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    mimetype: str
    etag: str

    @classmethod
    def of(cls, text: str, mimetype: str) -> "Asset":
        body = text.encode("utf-8")
        return cls(body, gzip.compress(body, compresslevel=9, mtime=0), mimetype,
                   '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


ASSETS = {
    "": Asset.of(index_html.TEXT, "text/html"),
    "index.html": Asset.of(index_html.TEXT, "text/html"),
    "console.js": Asset.of(console_js.TEXT, "text/javascript"),
    "console.css": Asset.of(console_css.TEXT, "text/css"),
}
# What a first visit downloads: the page, its script and its style (nothing else is loaded).
FIRST_LOAD = ("", "console.js", "console.css")


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache", **(extra or {})}


def serve(path: str, url: str, headers) -> func.HttpResponse:
    """The response for `GET /api/console/<path>`; `url` is the request's, `headers` its headers."""
    if path == "" and not url.split("?", 1)[0].endswith("/"):
        return func.HttpResponse(status_code=301, headers=_headers({"Location": "console/"}))
    asset = ASSETS.get(path)
    if asset is None:
        return func.HttpResponse(f"/api/console/{path[:200]} is not part of the console.\n", status_code=404,
                                 mimetype="text/plain", headers=_headers())
    extra = {"ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in [tag.strip() for tag in (headers.get("if-none-match") or "").split(",")]:
        return func.HttpResponse(status_code=304, headers=_headers(extra))
    if _accepts_gzip(headers.get("accept-encoding") or ""):
        return func.HttpResponse(asset.gzipped, mimetype=asset.mimetype, charset="utf-8",
                                 headers=_headers({**extra, "Content-Encoding": "gzip"}))
    return func.HttpResponse(asset.body, mimetype=asset.mimetype, charset="utf-8", headers=_headers(extra))


def _accepts_gzip(accept_encoding: str) -> bool:
    for entry in accept_encoding.lower().split(","):
        coding, _, parameters = entry.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return parameters.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


@bp.route(route="console/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req.route_params.get("path") or "", req.url, req.headers)
