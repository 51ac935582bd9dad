"""A loopback HTTP proxy that adds a fixed delay to every request: real BigQuery's round trip, in front of the emulator.

The local emulator answers a REST call in a few milliseconds; BigQuery answers in tens to hundreds. The
proxy sleeps `delay_s` before forwarding each request to `upstream`, so the number of HTTP round trips
a refresh needs (not only its number of queries) shows in its wall time. It counts the requests it served.

    proxy = LatencyProxy("http://127.0.0.1:9050", delay_s=0.110).start()
    ... point the client at proxy.endpoint ...
    proxy.stop()
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}


class LatencyProxy:
    def __init__(self, upstream: str, delay_s: float):
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the latency proxy only forwards to a loopback upstream")
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.delay_s = delay_s
        self.requests = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        with self._count_lock:
            self.requests = 0

    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="latency-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=300)
        return conn

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed: reconnect once
            conn = self._upstream()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.reason, resp.getheaders(), resp.read()
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _relay(self) -> None:
                with proxy._count_lock:
                    proxy.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
                headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
                time.sleep(proxy.delay_s)
                try:
                    status, reason, out_headers, payload = proxy._forward(self.command, self.path, headers, body)
                except OSError as exc:
                    self.send_error(502, f"upstream failed: {exc.__class__.__name__}")
                    return
                self.send_response(status, reason)
                for k, v in out_headers:
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

        return Handler
