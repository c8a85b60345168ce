"""A webhook receiver for tests: a threaded HTTP server on 127.0.0.1 that verifies every
delivery with the reference implementation (`standardwebhooks.Webhook(secret).verify`), keeps
what it received, and answers as the test plans (fail the first requests, stall, redirect).

Every wait here is bounded in time."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# A plan answers a delivery: (status code, extra headers), after any stall it asks for.
Answer = tuple[int, dict]


@dataclass
class Received:
    """One request as the receiver saw it."""

    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    headers: dict
    data: dict | None  # the verified body, parsed; None if verification failed
    error: str  # why verification failed ("" when it passed)
    number: int = 0  # 1 for the first request the receiver got
    answered: int = 0

    @property
    def verified(self) -> bool:
        return self.data is not None

    @property
    def measure(self) -> int | None:
        data = (self.data or {}).get("data", {})
        return data.get("measure") if isinstance(data.get("measure"), int) else None

    @property
    def event_number(self) -> int:
        return int(self.webhook_id.removeprefix("evt_"))


@dataclass
class Receiver:
    """Start it with start(); `secret` must be set before deliveries arrive (the subscription
    gives it). `plan(received, n)` answers the n-th request (1-based); by default every one is
    a 200. `stall` (seconds), when set, holds the next request that long before answering."""

    secret: str = ""
    plan: Callable[["Received", int], Answer] | None = None
    received: list[Received] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)
    answer_body: bytes | None = None  # what a 2xx says (default a short JSON)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tracker?source=tests"

    def start(self, port: int = 0) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as most receivers
            disable_nagle_algorithm = True  # headers and body go out at once

            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                received = receiver.take(body, dict(self.headers.items()))
                with receiver.lock:
                    stall = receiver.stalls.pop(0) if receiver.stalls else 0
                if stall:
                    receiver.release.wait(stall)
                status, headers = receiver.answer(received, received.number)
                received.answered = status
                payload = b'{"ok": true}' if 200 <= status < 300 else b"not now"
                if receiver.answer_body is not None and 200 <= status < 300:
                    payload = receiver.answer_body
                try:
                    self.send_response(status)
                    for name, value in {"Content-Length": str(len(payload)), **headers}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the worker went away while we stalled

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.release.set()
            self.server.shutdown()
            self.server.server_close()

    def take(self, body: bytes, headers: dict) -> Received:
        lower = {name.lower(): value for name, value in headers.items()}
        try:
            data = Webhook(self.secret).verify(body, headers)
            error = ""
        except (WebhookVerificationError, ValueError) as failure:
            data, error = None, f"{type(failure).__name__}: {failure}"
        received = Received(
            webhook_id=lower.get("webhook-id", ""),
            timestamp=lower.get("webhook-timestamp", ""),
            signature=lower.get("webhook-signature", ""),
            body=body,
            headers=lower,
            data=data,
            error=error,
        )
        with self.lock:
            self.received.append(received)
            received.number = len(self.received)
        return received

    def answer(self, received: Received, number: int) -> Answer:
        if not received.verified:
            return 400, {}
        return self.plan(received, number) if self.plan else (200, {})

    # Reading what came

    def accepted(self) -> list[Received]:
        """The deliveries answered with a 2xx, in the order they arrived."""
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received]

    def wait_until(self, condition: Callable[[], bool], seconds: float = 20) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def wait_for(self, count: int, seconds: float = 20) -> bool:
        """Whether `count` deliveries were accepted within `seconds`."""
        return self.wait_until(lambda: len(self.accepted()) >= count, seconds)


def fail_first(count: int, status: int = 503) -> Callable[[Received, int], Answer]:
    """A plan: the first `count` requests get `status`, the rest 200."""
    return lambda received, number: (status if number <= count else 200, {})


def parsed(received: Received) -> dict:
    return json.loads(received.body)
