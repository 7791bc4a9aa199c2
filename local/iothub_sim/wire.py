"""IoT Hub's HTTP format: reading a call, writing a reply, and the request pipeline.

Pipeline for hub routes, in this order (as the real hub): authenticate (SAS) → route →
api-version → throttle → injected fault → handler → reply; any `IotHubError` on the way becomes
IoT Hub's error body through `errors.to_wire`. `/_sim/` routes skip SAS and throttling but only
answer loopback callers.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from .auth import SasVerifier
from .errors import ArgumentInvalid, Forbidden, IotHubError, ServerError, to_wire
from .faults import FaultInjector
from .routes import Router
from .throttling import METHOD, Throttle, method_cost

log = logging.getLogger("iothub_sim")
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass
class Call:
    """A parsed request: decoded path parameters, the request (headers, query string) and body."""

    params: dict
    request: web.BaseRequest
    body: bytes = b""

    @property
    def headers(self):
        return self.request.headers

    @property
    def query(self):
        return self.request.query

    def json(self):
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise ArgumentInvalid(f"Request body is not valid JSON: {error}") from None

    def json_object(self) -> dict:
        value = self.json()
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ArgumentInvalid("Request body must be a JSON object")
        return value

    @property
    def if_match(self) -> str | None:
        return self.headers.get("If-Match")


@dataclass
class Reply:
    body: object = None
    status: int = 200
    headers: dict = field(default_factory=dict)


@dataclass
class Counters:
    """Calls per operation and status, for the control API."""

    by_operation: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count(self, operation: str, status: int) -> None:
        self.by_operation[operation][str(status)] += 1

    def to_dict(self) -> dict:
        return {op: {"calls": sum(statuses.values()), "byStatus": dict(statuses)}
                for op, statuses in self.by_operation.items()}

    def clear(self) -> None:
        self.by_operation.clear()


def respond(reply: Reply) -> web.Response:
    if reply.status == 204 or reply.body is None and reply.status != 200:
        return web.Response(status=reply.status, headers=reply.headers)
    body = json.dumps(reply.body, separators=(",", ":")).encode()
    headers = {"Content-Type": JSON_CONTENT_TYPE, **reply.headers}
    return web.Response(status=reply.status, body=body, headers=headers)


def respond_error(error: IotHubError) -> web.Response:
    status, headers, body = to_wire(error)
    return web.Response(status=status, body=body, headers=headers)


class Pipeline:
    """The one request handler the HTTP server calls."""

    def __init__(self, handlers, control, verifier: SasVerifier, throttle: Throttle, faults: FaultInjector,
                 hub_router: Router, control_router: Router) -> None:
        self.handlers, self.control = handlers, control
        self.verifier, self.throttle, self.faults = verifier, throttle, faults
        self.hub_router, self.control_router = hub_router, control_router
        self.counters = Counters()

    async def __call__(self, request: web.BaseRequest) -> web.Response:
        path = request.raw_path.partition("?")[0]
        if path.startswith("/_sim/"):
            return await self._control(request, path)
        operation = "unknown"
        try:
            self.verifier.verify(request.headers.get("Authorization"))
            route, params = self.hub_router.match(request.method, path)
            operation = route.handler
            reply = await self._hub_call(request, route, params)
            response = respond(reply)
        except IotHubError as error:
            response = respond_error(error)
        except Exception:  # a simulator bug must still look like a hub 500, never a stack trace
            log.exception("unexpected error on %s %s", request.method, path)
            response = respond_error(ServerError("Internal error in the IoT Hub simulator"))
        self.counters.count(operation, response.status)
        return response

    async def _hub_call(self, request: web.BaseRequest, route, params: dict) -> Reply:
        if "api-version=" not in request.raw_path:
            raise ArgumentInvalid("api-version query parameter is required")
        body = await request.read() if request.body_exists else b""
        cost = method_cost(len(body)) if route.operation_class == METHOD else 1
        self.throttle.check(route.operation_class, cost)
        await self._apply_fault(route.operation_class)
        call = Call(params, request, body)
        result = getattr(self.handlers, route.handler)(call)
        return await result if asyncio.iscoroutine(result) else result

    async def _apply_fault(self, operation_class: str) -> None:
        fault = self.faults.take(operation_class)
        if fault is None:
            return
        if fault.latency_seconds:
            await asyncio.sleep(fault.latency_seconds)
        error = fault.error()
        if error is not None:
            raise error

    async def _control(self, request: web.BaseRequest, path: str) -> web.Response:
        try:
            if not _is_loopback(request):
                raise Forbidden("The simulator control API only answers loopback callers")
            route, params = self.control_router.match(request.method, path)
            body = await request.read() if request.body_exists else b""
            call = Call(params, request, body)
            return respond(getattr(self.control, route.handler)(call))
        except IotHubError as error:
            return respond_error(error)
        except (ValueError, TypeError, KeyError) as error:  # malformed control request bodies
            return respond_error(ArgumentInvalid(f"Invalid control request: {error}"))


def _is_loopback(request: web.BaseRequest) -> bool:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        return False
    address = ipaddress.ip_address(peer[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback
