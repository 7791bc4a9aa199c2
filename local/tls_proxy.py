"""A small HTTPS reverse proxy in front of the dev host, as every deployment has one (App Service's
front ends, Front Door, Application Gateway, nginx). Development and tests only.

    with start_tls_proxy("http://127.0.0.1:7071") as proxy:
        requests.get(f"{proxy.base_url}/api/jobs", verify=proxy.ca_bundle)

    python -m local.tls_proxy --upstream http://127.0.0.1:7071 [--port 8444]

It terminates TLS with a fresh self-signed certificate (made by the simulator's `certs` module,
SAN `localhost` and `127.0.0.1`; `ca_bundle` trusts it and the public CAs), forwards every request
to the upstream's HTTP URL with its method, path, query, headers and body unchanged, and adds what
such proxies add: `X-Forwarded-Proto: https`, `X-Forwarded-Host: <public host:port>`,
`X-Forwarded-For` and RFC 7239 `Forwarded`, replacing any the caller sent. Like nginx's default, it sends the *upstream's* `Host`,
so an app that ignores the forwarded headers sees the internal URL, not the public one.
Answers come back as they are (status, headers, body streamed in blocks). With a `path_prefix`
it publishes the app under that path, as a path-based router does: `/prefix/api/…` goes to
`/api/…`, and anything outside the prefix is the proxy's own 404.
"""
from __future__ import annotations

import argparse
import http.client
import ssl
import tempfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from local.iothub_sim.certs import ensure_tls_files

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"})
# Set by the proxy itself (what a caller sent under these names is dropped, as nginx's
# proxy_set_header replaces it): the app may then believe the forwarded ones.
_SET_HERE = frozenset({"host", "content-length", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-for",
                       "forwarded"})
BLOCK = 64 * 1024
UPSTREAM_TIMEOUT_SECONDS = 300


class TlsProxy:
    """A running proxy: `base_url` (https://127.0.0.1:<port>), `ca_bundle` (a PEM file that trusts
    it), `upstream_base_url` (may be changed while it runs, e.g. after the upstream restarts)."""

    def __init__(self, upstream_base_url: str, host: str = "127.0.0.1", port: int = 0, path_prefix: str = ""):
        self.upstream_base_url = upstream_base_url
        self.path_prefix = path_prefix.rstrip("/")
        self._tls_dir = tempfile.TemporaryDirectory(prefix="tls-proxy-")
        files = ensure_tls_files(Path(self._tls_dir.name))
        self.ca_bundle = str(files.ca_bundle)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files.cert, files.key)
        self._server = _Server((host, port), _Handler)
        self._server.proxy = self
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="tls-proxy", daemon=True)

    @property
    def base_url(self) -> str:
        """Where callers reach the app: the https origin, then the prefix if any."""
        return f"https://{self.host}:{self.port}{self.path_prefix}"

    @property
    def public_host(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "TlsProxy":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._tls_dir.cleanup()


@contextmanager
def start_tls_proxy(upstream_base_url: str, host: str = "127.0.0.1", port: int = 0, path_prefix: str = ""):
    proxy = TlsProxy(upstream_base_url, host, port, path_prefix).start()
    try:
        yield proxy
    finally:
        proxy.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: TlsProxy

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up or failed the TLS handshake is no news to the caller


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients in front of a real proxy expect
    server: _Server

    def __getattr__(self, name: str):
        if name.startswith("do_"):
            return self._forward  # every method, known or not, is the upstream's to answer
        raise AttributeError(name)

    def log_message(self, format: str, *args) -> None:
        pass

    def _forward(self) -> None:
        proxy = self.server.proxy
        upstream = urlsplit(proxy.upstream_base_url)
        body = self._request_body()
        if proxy.path_prefix and not self.path.startswith(proxy.path_prefix + "/"):
            self._plain(404, f"{self.path} is not under {proxy.path_prefix}/")
            return
        path = self.path[len(proxy.path_prefix):]
        headers = [(name, value) for name, value in self.headers.items()
                   if name.lower() not in HOP_BY_HOP | _SET_HERE]
        client = self.client_address[0]
        headers += [("Host", upstream.netloc), ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", proxy.public_host), ("X-Forwarded-For", client),
                    ("Forwarded", f'for={client};proto=https;host="{proxy.public_host}"')]
        if body is not None:
            headers.append(("Content-Length", str(len(body))))
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port or 80,
                                                timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            connection.putrequest(self.command, upstream.path.rstrip("/") + path,
                                  skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
        except OSError as error:
            connection.close()
            self._bad_gateway(error)
            return
        try:
            self._relay(answer)
        finally:
            connection.close()

    def _request_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length is not None else None

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _relay(self, answer: http.client.HTTPResponse) -> None:
        self.send_response_only(answer.status, answer.reason)
        length = answer.getheader("Content-Length")
        no_body = self.command == "HEAD" or answer.status in (204, 304) or 100 <= answer.status < 200
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        chunked = length is None and not no_body
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        while block := answer.read1(BLOCK) if chunked else answer.read(BLOCK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _bad_gateway(self, error: OSError) -> None:
        self._plain(502, f"the upstream {self.server.proxy.upstream_base_url} did not answer: {error}")

    def _plain(self, status: int, text: str) -> None:
        """The proxy's own answer, in plain text as such proxies give it."""
        message = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(message)))
        self.end_headers()
        self.wfile.write(message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.tls_proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", default="http://127.0.0.1:7071", help="the dev host's base URL")
    parser.add_argument("--port", type=int, default=8444, help="0 picks a free port")
    parser.add_argument("--path-prefix", default="", help="publish the app under this path, e.g. /fleet")
    args = parser.parse_args(argv)
    with start_tls_proxy(args.upstream, port=args.port, path_prefix=args.path_prefix) as proxy:
        print(f"PROXY_BASE_URL={proxy.base_url}", flush=True)
        print(f"PROXY_CA_BUNDLE={proxy.ca_bundle}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
