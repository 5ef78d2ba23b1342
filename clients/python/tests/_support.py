"""Test helpers: the real `verifier serve` on a free loopback port (found through
`$VERIFIER_BIN`), and a tiny scripted HTTP server for what the real one does not do on demand
(a 503 with Retry-After, a hang-up mid-request, a stall)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verifier_bin() -> str:
    path = os.environ.get("VERIFIER_BIN")
    if not path:
        raise unittest.SkipTest(
            "VERIFIER_BIN is not set: point it at a built `verifier` binary "
            "(e.g. VERIFIER_BIN=target/release/verifier) to run the client's tests against the real service"
        )
    if not os.path.isfile(path):
        raise unittest.SkipTest(f"VERIFIER_BIN={path} does not exist")
    return path


class Service:
    """`verifier serve --addr 127.0.0.1:0`; `url` is where it listens."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [verifier_bin(), "serve", "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "warn"},
            text=True,
        )
        line = self.process.stdout.readline().strip()
        prefix = "verifier listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"verifier serve did not start: {line!r}")
        self.url = line[len(prefix):]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def dead_url() -> str:
    """A loopback address where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Stub:
    """An HTTP/1.1 keep-alive server whose answers follow `script(n, samples)` for the n-th
    request (from 0): it returns `(status, headers, body)`, or `"hangup"` to close the connection
    without answering. The default answer grades every sample `correct` with reward 0.25.
    `requests` records `(client_port, number_of_samples, time)`."""

    def __init__(self, script=None):
        self.script = script or (lambda n, samples: None)
        self.requests: list[tuple[int, int, float]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                samples = json.loads(body)["samples"]
                with stub.lock:
                    n = len(stub.requests)
                    stub.requests.append((self.client_address[1], len(samples), time.monotonic()))
                answer = stub.script(n, samples)
                if answer == "hangup":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if answer is None:
                    results = [{"id": s.get("id"), "reward": 0.25, "status": "correct"} for s in samples]
                    answer = (200, {}, {"results": results})
                status, headers, payload = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up on a stalled answer closes its end: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def math_sample(i: int, right: bool = True, **extra) -> dict:
    """A math sample whose answer is i (or i + 1 when not `right`)."""
    answer = i if right else i + 1
    return {"id": i, "completion": f"So the answer is $\\boxed{{{answer}}}$.",
            "task": {"kind": "math", "answer": str(i)}, **extra}
