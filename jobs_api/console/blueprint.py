"""The operators' console: one anonymous HTTP function serving its static assets.

The assets are public (no data in them); everything the console shows it reads from the public
API with the caller's own credential, as any script could. `/api/console` redirects to
`/api/console/` (relative, so a gateway's path prefix is kept) so that the page's relative links
(`console.js`, `../jobs`) resolve under the API.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import azure.functions as func

from jobs_api.console.assets import console_css, console_js, index_html
from shared.settings import Settings

bp = func.Blueprint()

# The page may load only its own script and style and talk only to its own origin (and, with the
# sign-in with Entra ID, to its token endpoint): no inline script, no third party, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True)
class EntraSignIn:
    """What the page needs to sign in with Entra ID: all public (they travel in the sign-in URL)."""
    authority: str  # <login URL>/<tenant>/oauth2/v2.0: its /authorize and /token
    client_id: str
    scope: str

    @classmethod
    def of(cls, settings: Settings) -> "EntraSignIn | None":
        if not (settings.entra_tenant_id and settings.entra_console_client_id and settings.entra_console_scope):
            return None
        return cls(f"{settings.entra_login_url}/{settings.entra_tenant_id}/oauth2/v2.0",
                   settings.entra_console_client_id, settings.entra_console_scope)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.authority)
        return f"{parts.scheme}://{parts.netloc}"


@lru_cache(maxsize=1)
def _sign_in() -> EntraSignIn | None:
    return EntraSignIn.of(Settings.from_environ())


def content_security_policy(sign_in: EntraSignIn | None) -> str:
    if sign_in is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self';", f"connect-src 'self' {sign_in.origin};")


def config_text(sign_in: EntraSignIn | None) -> str:
    """The console's configuration, served as /api/console/config.json."""
    entra = None if sign_in is None else {"authority": sign_in.authority, "clientId": sign_in.client_id,
                                          "scope": sign_in.scope}
    return json.dumps({"entra": entra})


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


def _headers(extra: dict[str, str] | None = None, sign_in: EntraSignIn | None = None) -> dict[str, str]:
    return {"Content-Security-Policy": content_security_policy(sign_in), "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache", **(extra or {})}


def serve(path: str, url: str, headers, sign_in: EntraSignIn | None = None) -> func.HttpResponse:
    """The response for `GET /api/console/<path>`; `url` is the request's, `headers` its headers;
    `sign_in` the app's sign-in with Entra ID, if any."""
    if path == "" and not url.split("?", 1)[0].endswith("/"):
        query = url.split("?", 1)[1] if "?" in url else ""
        location = "console/" + (f"?{query}" if query else "")  # the answer of a sign-in is in the query
        return func.HttpResponse(status_code=301, headers=_headers({"Location": location}, sign_in))
    asset = Asset.of(config_text(sign_in), "application/json") if path == "config.json" else ASSETS.get(path)
    if asset is None:
        return func.HttpResponse(f"/api/console/{path[:200]} is not part of the console.\n", status_code=404,
                                 mimetype="text/plain", headers=_headers(sign_in=sign_in))
    extra = {"ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in [tag.strip() for tag in (headers.get("if-none-match") or "").split(",")]:
        return func.HttpResponse(status_code=304, headers=_headers(extra, sign_in))
    if _accepts_gzip(headers.get("accept-encoding") or ""):
        return func.HttpResponse(asset.gzipped, mimetype=asset.mimetype, charset="utf-8",
                                 headers=_headers({**extra, "Content-Encoding": "gzip"}, sign_in))
    return func.HttpResponse(asset.body, mimetype=asset.mimetype, charset="utf-8", headers=_headers(extra, sign_in))


def _accepts_gzip(accept_encoding: str) -> bool:
    for entry in accept_encoding.lower().split(","):
        coding, _, parameters = entry.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return parameters.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


@bp.route(route="console/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req.route_params.get("path") or "", req.url, req.headers, _sign_in())
