"""The hard deadline of a Claude call, enforced on the wire.

httpx's own timeouts bound each read, not their sum: a body dripped a chunk at a time
would pass them all. Here every socket operation of the SDK's connection pools is cut to
what is left of the current call's deadline (set by `budget.client` around each call).
"""

import contextlib
import contextvars
from collections.abc import Iterator

import anthropic
import httpcore2
import httpx2

from agentsite.core import clock

# The monotonic time (agentsite.core.clock.monotonic) by which the current call must be over.
_call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("claude_call_deadline", default=None)


@contextlib.contextmanager
def call_deadline(deadline: float) -> Iterator[None]:
    """Every socket operation inside this block ends by `deadline` (a monotonic time)."""
    token = _call_deadline.set(deadline)
    try:
        yield
    finally:
        _call_deadline.reset(token)


def _time_left(error: type[Exception], timeout: float | None) -> float | None:
    """`timeout` cut to what is left of the current call's deadline; `error` once it passed."""
    deadline = _call_deadline.get()
    if deadline is None:
        return timeout
    left = deadline - clock.monotonic()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    """A connection whose every read and write ends by the call's deadline."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(httpcore2.ReadTimeout, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(httpcore2.WriteTimeout, timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore2.NetworkStream:
        timeout = _time_left(httpcore2.ConnectTimeout, timeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        timeout = _time_left(httpcore2.ConnectTimeout, timeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        timeout = _time_left(httpcore2.ConnectTimeout, timeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_http_client() -> httpx2.Client:
    """The SDK's default HTTP client (keep-alive, proxies from the environment), its
    connection pools given the deadline-bounded network backend."""
    client = anthropic.DefaultHttpxClient()
    transports = [client._transport, *client._mounts.values()]
    pools = [getattr(t, "_pool", None) for t in transports if t is not None]
    if not pools or not all(hasattr(pool, "_network_backend") for pool in pools):
        # httpx2 changed shape: refuse to run without the deadline rather than run unbounded.
        raise RuntimeError("Cannot bound Claude calls by their deadline with this httpx2 version")
    for pool in pools:
        pool._network_backend = _DeadlineBackend(pool._network_backend)
    return client
