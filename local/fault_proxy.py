"""A TCP proxy on loopback that can refuse connections, for outage tests: point a client at
`proxy.port` instead of the service's, then `refuse()` (every open connection is cut and new
ones are refused, as by a service that is down) and `accept()` again.

    with FaultProxy(target_port) as proxy:
        ...  # talk to 127.0.0.1:proxy.port
        proxy.refuse()
"""
from __future__ import annotations

import socket
import threading

_CHUNK = 64 * 1024


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.accept()

    @property
    def refusing(self) -> bool:
        return self._listener is None

    def accept(self) -> None:
        """Take connections (again, on the same port)."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self.port, self._listener = listener.getsockname()[1], listener
        threading.Thread(target=self._serve, args=(listener,), name="fault-proxy", daemon=True).start()

    def refuse(self) -> None:
        """Cut every open connection and refuse new ones until `accept()`."""
        with self._lock:
            listener, self._listener = self._listener, None
            cut, self._open = self._open, set()
        for sock in ([listener] if listener else []) + list(cut):
            _close(sock)

    def close(self) -> None:
        self.refuse()

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # refused from now on: the listener was closed
            try:
                upstream = socket.create_connection(self._target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # refused meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, sink}
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
