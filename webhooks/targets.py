"""Where a delivery may go: an http or https URL whose host resolves to public addresses only,
unless WEBHOOK_ALLOW_PRIVATE_TARGETS allows private, loopback, link-local, multicast and
reserved ones too.

Checked twice: when a subscription's URL is saved (the refusal names the address), and again
before every attempt, after resolving the host afresh. The attempt then connects to the very
address that was checked (sending.py), so a name that resolves elsewhere a moment later (DNS
rebinding) cannot turn a delivery towards the tracker's own network.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

URL_MAX_LENGTH = 2000
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL may not be delivered to now; the message says why."""


@dataclass(frozen=True)
class Target:
    """A URL taken apart, with the address an attempt connects to."""

    scheme: str
    host: str  # as the URL names it: the Host header, the TLS server name
    port: int
    path: str  # with its query
    address: str  # the resolved, checked IP address

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of `url`. Raises TargetRefused for anything but
    an absolute http or https URL with a host, no credentials and a valid port."""
    if len(url) > URL_MAX_LENGTH:
        raise TargetRefused(
            _("A URL is at most %(max)s characters long.") % {"max": URL_MAX_LENGTH}
        )
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise TargetRefused(_("A URL has no spaces or control characters."))
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise TargetRefused(_("Use an http:// or https:// URL."))
    if parts.username is not None or parts.password is not None:
        raise TargetRefused(
            _("Leave credentials out of the URL: the signature tells the receiver it is us.")
        )
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise TargetRefused(_("The URL's port is not a number from 1 to 65535.")) from None
    host = (parts.hostname or "").rstrip(".")
    if not host or port < 1:
        raise TargetRefused(_("The URL names no host."))
    path = parts.path or "/"
    return parts.scheme, host, port, f"{path}?{parts.query}" if parts.query else path


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now, in the resolver's order. Raises OSError when it
    resolves to none. (Tests replace it for names that must not leave the machine.)"""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def refusal(address: str) -> str | None:
    """Why a receiver at `address` is refused (None: it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kinds = [
        (ip.is_loopback, _("a loopback address")),
        (ip.is_link_local, _("a link-local address")),
        (ip.is_multicast, _("a multicast address")),
        (ip.is_unspecified, _("an unspecified address")),
        (ip.is_reserved, _("a reserved address")),
        (ip.is_private, _("a private address")),
        (not ip.is_global, _("not a public address")),
    ]
    for matched, kind in kinds:
        if matched:
            return kind
    return None


def vet(url: str) -> Target:
    """The target an attempt at `url` connects to: its host resolved now, every address
    checked, the first one chosen. Raises TargetRefused when the URL is malformed, the host
    does not resolve, or (unless WEBHOOK_ALLOW_PRIVATE_TARGETS) any address is not public: a
    name that resolves to a public and a private address is refused whole."""
    scheme, host, port, path = split(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise TargetRefused(
            _("%(host)s could not be resolved (%(error)s).") % {"host": host, "error": error}
        ) from None
    if not addresses:
        raise TargetRefused(_("%(host)s could not be resolved.") % {"host": host})
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            kind = refusal(address)
            if kind:
                raise TargetRefused(
                    _(
                        "%(host)s resolves to %(address)s, %(kind)s: receivers must be on "
                        "public addresses."
                    )
                    % {"host": host, "address": address, "kind": kind}
                )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def check_url(url: str) -> None:
    """Raises ValidationError on `url` when a delivery could not go there now (vet). With
    WEBHOOK_ALLOW_PRIVATE_TARGETS only its form is checked: any address would do, and the
    host need not resolve yet."""
    try:
        if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
            split(url)
        else:
            vet(url)
    except TargetRefused as refused:
        raise ValidationError({"url": [str(refused)]}) from None
