"""A tiny threaded loopback HTTP server that records requests and answers from a script."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body or b"null")

    @property
    def form(self) -> dict:
        """Form-encoded bodies (python-telegram-bot) flattened to single values."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    @property
    def params(self) -> dict:
        if self.headers.get("content-type", "").startswith("application/json"):
            return self.json
        return self.form


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    content_type: str = "application/json"
    # Faults after the headers: the body in `drip_chunks` pieces, `drip` seconds before each;
    # or only its first `cut_after` bytes, then the connection closed.
    drip: float = 0.0
    drip_chunks: int = 8
    cut_after: int | None = None
    # Close the connection without answering at all.
    drop: bool = False


Responder = Callable[[Recorded], Reply]


class FakeServer:
    """Start with `start()`, point a client at `url`, script with `enqueue()`/`responder`."""

    def __init__(self, default: Responder) -> None:
        self.default = default
        self.requests: list[Recorded] = []
        self._queue: list[Reply | Responder] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- scripting -----------------------------------------------------------
    def enqueue(self, *replies: Reply | Responder) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            scripted = self._queue.pop(0) if self._queue else self.default
        return scripted(recorded) if callable(scripted) else scripted

    # --- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, *, port: int = 0) -> "FakeServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per reply

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = fake._next(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self._hang_up()
                    return
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.content_type)
                    self.send_header("content-length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    body = payload if reply.cut_after is None else payload[: reply.cut_after]
                    if reply.drip:
                        size = max(1, -(-len(body) // max(1, reply.drip_chunks)))
                        for start in range(0, len(body), size):
                            time.sleep(reply.drip)
                            self.wfile.write(body[start : start + size])
                    else:
                        self.wfile.write(body)
                    if reply.cut_after is not None:
                        self._hang_up()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _hang_up(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
