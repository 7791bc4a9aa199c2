"""The HTTP front end: function routes under the route prefix, plus the admin API."""
from __future__ import annotations

import logging

import azure.functions as func
from aiohttp import web

from .admin import AdminApi
from .app_loader import FunctionInfo
from .invoker import Invoker
from .keys import HostKeys
from .routing import Route, find_route, order_routes, parse_route_template

log = logging.getLogger("local.functions_host")

MAX_REQUEST_BYTES = 100 * 1024 * 1024  # the host's default request body limit


def route_template_text(function: FunctionInfo, prefix: str) -> str:
    route = (function.trigger.route or function.name).strip("/")
    return "/".join(part for part in (prefix.strip("/"), route) if part)


def build_routes(functions: list[FunctionInfo], prefix: str) -> list[Route]:
    """Routes of the HTTP functions; raises RouteTemplateError for a bad template."""
    routes = []
    for function in functions:
        methods = function.trigger.methods
        allowed = frozenset(str(getattr(m, "value", m)).upper() for m in methods) if methods else None
        routes.append(Route(parse_route_template(route_template_text(function, prefix)), allowed, function))
    return order_routes(routes)


def auth_level_of(function: FunctionInfo) -> str:
    level = function.trigger.auth_level
    return str(getattr(level, "value", level) or "function")


MAX_HEADER_BYTES = 32 * 1024


class HttpFrontEnd:
    def __init__(self, routes: list[Route], invoker: Invoker, admin: AdminApi, keys: HostKeys | None,
                 write_outputs) -> None:
        self.routes, self.invoker, self.admin, self.keys = routes, invoker, admin, keys
        self._write_outputs = write_outputs

    def web_app(self) -> web.Application:
        # aiohttp's 8 KiB header field limit would refuse an Entra token or an Easy Auth principal
        # that the Functions host (Kestrel, 32 KiB of headers) passes through.
        app = web.Application(client_max_size=MAX_REQUEST_BYTES, handler_args={"max_field_size": MAX_HEADER_BYTES})
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.lower().startswith("/admin/"):
            if not self._authorized(request, "admin", None):
                return web.Response(status=401)
            return await self.admin.handle(request)
        found = find_route(self.routes, request.path, request.method)
        if found is None:
            return web.Response(status=404)  # also for a known path with the wrong method, as the host does
        route, values = found
        function: FunctionInfo = route.target
        if not self._authorized(request, auth_level_of(function), function.name):
            return web.Response(status=401)
        return await self._invoke(function, request, values)

    def _authorized(self, request: web.Request, level: str, function_name: str | None) -> bool:
        if self.keys is None:
            return True  # locally the real host does not check keys either
        presented = request.headers.get("x-functions-key") or request.query.get("code")
        return self.keys.allows(level, function_name, presented)

    async def _invoke(self, function: FunctionInfo, request: web.Request, values: dict) -> web.Response:
        http_request = await build_http_request(request, values)
        result = await self.invoker.invoke(function, http_request, f"http {request.method} {request.path}")
        if not result.succeeded:
            return web.Response(status=500)
        try:
            await self._write_outputs(function, result)
            return to_web_response(result.return_value)
        except Exception:
            log.exception("Completing the HTTP response of %s failed", function.name)
            return web.Response(status=500)


async def build_http_request(request: web.Request, route_values: dict[str, str]) -> func.HttpRequest:
    """Repeated query keys and headers are joined with ',' as ASP.NET's StringValues are."""
    params = {key: ",".join(request.query.getall(key)) for key in request.query.keys()}
    headers = {key: ",".join(request.headers.getall(key)) for key in request.headers.keys()}
    return func.HttpRequest(method=request.method, url=str(request.url), headers=headers, params=params,
                            route_params=route_values, body=await request.read())


def to_web_response(value) -> web.Response:
    if value is None:
        return web.Response(status=204)
    if isinstance(value, (str, bytes)):
        value = func.HttpResponse(value)
    if not isinstance(value, func.HttpResponse):
        raise TypeError(f"an HTTP function must return func.HttpResponse, str or bytes, not {type(value).__name__}")
    headers = dict(value.headers)
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = f"{value.mimetype}; charset={value.charset}"
    return web.Response(status=value.status_code, body=value.get_body(), headers=headers)
