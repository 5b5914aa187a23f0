"""A ``TF_CONFIG`` address, ``host:port``, checked as an address: its syntax, then what it reaches.

**Syntax** (:func:`split`, no network), what gRPC accepts:

* ``port``: 1 to 5 ASCII digits, ``1 <= port <= 65535`` (``"²".isdigit()`` is true; gRPC reads ASCII);
* ``host``: an IPv4 literal; an IPv6 literal in brackets (``[::1]:2222``, the colons of a bare
  one are ambiguous); or a hostname as RFC 1123 has it, with underscores too (DNS and Docker's
  service names allow them): dot-separated labels of ASCII letters, digits, hyphens and
  underscores, 1 to 63 characters each, neither starting nor ending with a hyphen, 253 characters
  in all, the last label not all digits (``1.2.3.999`` is a broken IPv4 literal, not a name).

**What it reaches** (:func:`endpoints`): every ``(IP, port)`` ``getaddrinfo`` gives for it. An
IP this machine holds (it can bind to it: ``127.0.0.0/8``, ``::1``, its own interfaces, the
wildcards) counts as :data:`THIS_MACHINE`, since a host's listener and TensorFlow's gRPC server
listen on every interface: ``127.0.0.1:P``, ``127.0.0.2:P`` and ``localhost:P`` all reach the same
server. Two tasks whose endpoints meet cannot both be served (:func:`first_shared`).

>>> split("host-b.example:2222"), split("[::1]:80"), split("10.0.0.7:65535")
(('host-b.example', 2222), ('::1', 80), ('10.0.0.7', 65535))
>>> split("host b:2222")
Traceback (most recent call last):
...
ValueError: host 'host b' is not a hostname or an IP address (IPv6 goes in brackets: [::1]:2222)
>>> split("127.0.0.1:99999")
Traceback (most recent call last):
...
ValueError: port 99999 is out of range (1 to 65535)
>>> split("127.0.0.1:0023456")
Traceback (most recent call last):
...
ValueError: port 0023456 has 7 digits, more than 5
>>> split("127.0.0.1:²")
Traceback (most recent call last):
...
ValueError: port '²' is not a number of ASCII digits
>>> endpoints("localhost", 2222) == endpoints("127.0.0.2", 2222) == {(THIS_MACHINE, 2222)}
True
>>> first_shared([{("127.0.0.1", 80)}, {("10.0.0.7", 80)}, {("10.0.0.7", 80), ("::1", 80)}])
(1, 2, ('10.0.0.7', 80))
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Sequence

__all__ = ["THIS_MACHINE", "endpoints", "first_shared", "listener", "resolve_all", "split"]

THIS_MACHINE = "this machine"
MAX_HOST = 253  # RFC 1123: a name's length in all
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")
Endpoint = tuple[str, int]


def _host(host: str) -> str:
    """``host`` checked as an IP literal or a hostname (brackets already removed for IPv6)."""
    if not host:
        raise ValueError("host is empty")
    labels = host.removesuffix(".").split(".")
    if len(host) > MAX_HOST or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"host {host!r} is not a hostname or an IP address (IPv6 goes in brackets: [::1]:2222)")
    if labels[-1].isdigit():  # looks like IPv4 (ASCII digits only: _LABEL matched)
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"host {host!r} is not a valid IPv4 address") from None
    return host


def split(address: str) -> Endpoint:
    """``(host, port)`` of ``"host:port"`` (``"[v6]:port"``); raises ValueError saying what is wrong."""
    if address.startswith("["):
        literal, closing, port = address[1:].partition("]:")
        if not closing:
            raise ValueError("is not [IPv6]:port")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise ValueError(f"host [{literal}] is not an IPv6 address") from None
        host = literal
    else:
        host, colon, port = address.rpartition(":")
        if not colon:
            raise ValueError("has no port: it must be host:port")
        if ":" in host:
            raise ValueError("has a bare IPv6 address: write it in brackets, [::1]:2222")
        host = _host(host)
    if not (port.isascii() and port.isdigit()):
        raise ValueError(f"port {port!r} is not a number of ASCII digits")
    if len(port) > 5:
        raise ValueError(f"port {port[:12]}{'...' * (len(port) > 12)} has {len(port)} digits, more than 5")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} is out of range (1 to 65535)")
    return host, int(port)


@functools.cache
def _on_this_machine(ip: str) -> bool:
    """Whether this machine holds ``ip``: a socket can bind to it (port 0, closed at once)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        return True
    return False


def endpoints(host: str, port: int) -> frozenset[Endpoint]:
    """The ``(IP, port)`` pairs ``host`` resolves to, an IP of this machine as :data:`THIS_MACHINE`.

    Raises OSError (``socket.gaierror``) when the name does not resolve.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    ips = {str(info[4][0]).partition("%")[0] for info in found}
    return frozenset((THIS_MACHINE if _on_this_machine(ip) else ip, port) for ip in ips)


def resolve_all(addresses: Sequence[Endpoint], seconds: float) -> list[frozenset[Endpoint] | str]:
    """Each address's :func:`endpoints`, or why it has none; every lookup within ``seconds`` in all.

    ``getaddrinfo`` takes no timeout (a resolver may retry for tens of seconds), so each name is
    looked up in a daemon thread that is left behind if it overruns.
    """
    results: list[frozenset[Endpoint] | str] = [f"did not resolve within {seconds:g} s"] * len(addresses)

    def look_up(index: int, host: str, port: int) -> None:
        try:
            results[index] = endpoints(host, port)
        except OSError as error:
            results[index] = f"does not resolve ({error.strerror or error})"

    threads = [threading.Thread(target=look_up, args=(i, *address), daemon=True) for i, address in enumerate(addresses)]
    ends = time.monotonic() + seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, ends - time.monotonic()))
    return list(results)


def first_shared(reached: Sequence[frozenset[Endpoint] | set[Endpoint]]) -> tuple[int, int, Endpoint] | None:
    """The first two indices whose endpoints meet, and one endpoint they share; ``None`` when none do."""
    for second, theirs in enumerate(reached):
        for first in range(second):
            shared = sorted(reached[first] & theirs)
            if shared:
                return first, second, shared[0]
    return None


def listener(port: int) -> socket.socket:
    """A socket bound to ``port`` on every interface, IPv6 and IPv4 (as TensorFlow's gRPC server binds).

    Raises OSError when the port cannot be bound (another process holds it).
    """
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:  # no IPv6 on this machine
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::" if sock.family == socket.AF_INET6 else "", port))
    except OSError:
        sock.close()
        raise
    return sock
