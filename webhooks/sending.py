"""One HTTP attempt of a delivery: the envelope POSTed as JSON with the Standard Webhooks
headers, signed by the reference library (`standardwebhooks`), to the address targets.vet
checked, with connect and read timeouts, no redirect followed (a 3xx is a failure) and at
most RESPONSE_KEPT bytes of the answer read.

urllib3 rather than the standard library's http.client: it connects to an address while
sending another name as Host, TLS server name and certificate name (the vetted address,
against DNS rebinding), keeps a connection per receiver for a run, and has separate connect
and read timeouts."""

import json
import time
from dataclasses import dataclass
from datetime import datetime

import urllib3
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks.webhooks import Webhook

from . import targets

RESPONSE_KEPT = 1024
# How long (seconds) a sender reuses the address it vetted for a URL: each POST still goes to
# an address that was checked, without resolving the name before every one of a batch.
VETTED_FOR = 30
ERROR_KEPT = 300
USER_AGENT = "policy-tracker-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the status code (None when there was no HTTP answer, `error`
    then says why), its duration and the first bytes of the answer."""

    status_code: int | None
    duration_ms: int
    response_body: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(envelope: dict) -> str:
    """The envelope as the JSON text that is signed and sent."""
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def signed_headers(*, message_id: str, body: str, secrets: list[str], at: datetime) -> dict:
    """The Standard Webhooks headers of `body` sent at `at` (UTC): one signature per secret,
    separated by spaces, as the specification allows during a rotation."""
    signatures = " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body) for secret in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


class Sender:
    """Sends attempts, with a connection pool per receiver (address, port, host) for as long
    as it is open. Use as a context manager."""

    def __init__(self):
        self.pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
        self.vetted: dict[str, tuple[float, targets.Target]] = {}
        self.timeout = urllib3.Timeout(
            connect=settings.WEBHOOK_CONNECT_TIMEOUT, read=settings.WEBHOOK_READ_TIMEOUT
        )

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc_info) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()

    def target(self, url: str) -> targets.Target:
        """targets.vet(url), remembered for VETTED_FOR seconds."""
        known = self.vetted.get(url)
        if known is None or time.monotonic() - known[0] > VETTED_FOR:
            known = self.vetted[url] = (time.monotonic(), targets.vet(url))
        return known[1]

    def pool(self, target: targets.Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        if key not in self.pools:
            options = {"timeout": self.timeout, "retries": False, "maxsize": 1}
            if target.scheme == "https":
                # Connected to the address, but TLS checks the certificate against the name.
                self.pools[key] = urllib3.HTTPSConnectionPool(
                    target.address,
                    target.port,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    cert_reqs="CERT_REQUIRED",
                    **options,
                )
            else:
                self.pools[key] = urllib3.HTTPConnectionPool(target.address, target.port, **options)
        return self.pools[key]

    def send(self, url: str, *, message_id: str, body: str, secrets: list[str], at) -> Outcome:
        """POST `body` to `url`, signed at `at`. Never raises for anything the receiver or
        the network does: that is an Outcome without a status code."""
        began = time.monotonic()

        def elapsed() -> int:
            return round((time.monotonic() - began) * 1000)

        try:
            target = self.target(url)
        except targets.TargetRefused as refused:
            return Outcome(None, elapsed(), error=str(refused)[:ERROR_KEPT])
        headers = {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Accept": "*/*",
            **signed_headers(message_id=message_id, body=body, secrets=secrets, at=at),
        }
        try:
            response = self.pool(target).urlopen(
                "POST",
                target.path,
                body=body.encode(),
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.HTTPError as error:
            return Outcome(None, elapsed(), error=describe(error))
        try:
            head = response.read(RESPONSE_KEPT + 1, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            response.close()
            return Outcome(response.status, elapsed(), error=describe(error))
        if len(head) > RESPONSE_KEPT:
            response.close()  # the rest is not read: the connection cannot be reused
        else:
            response.release_conn()
        return Outcome(
            response.status,
            elapsed(),
            response_body=head[:RESPONSE_KEPT].decode("utf-8", errors="replace"),
        )


def describe(error: Exception) -> str:
    """A short reason for an attempt that got no answer, without urllib3's pool details."""
    reason = getattr(error, "reason", None) or error
    text = f"{type(reason).__name__}: {reason}"
    return text.replace("HTTPConnectionPool", "connection")[:ERROR_KEPT]
