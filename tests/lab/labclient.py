from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from censorwatch.lab import netns
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.topology import PREFIX


class Client:
    """Blocking sockets opened inside one lab network namespace (real kernel, real packets)."""

    def __init__(self, ns: str, ca_file: Path) -> None:
        self.ns, self.ca_file = ns, ca_file

    def connect(self, addr: str, port: int, timeout: float = 3.0) -> socket.socket:
        with netns.netns(self.ns):
            s = socket.socket()
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
        except BaseException:
            s.close()
            raise
        return s

    def tls(self, addr: str, name: str, timeout: float = 3.0) -> ssl.SSLSocket:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        s = self.connect(addr, 443, timeout)
        try:
            return ctx.wrap_socket(s, server_hostname=name)
        except BaseException:
            s.close()
            raise

    @staticmethod
    def _read_all(s: socket.socket) -> bytes:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data

    def get(self, addr: str, name: str, path: str = "/", *, https: bool = False, timeout: float = 3.0) -> bytes:
        s: socket.socket = self.tls(addr, name, timeout) if https else self.connect(addr, 80, timeout)
        with s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            return self._read_all(s)

    def query(self, server: str, name: str, timeout: float = 2.0) -> dns.message.Message:
        with netns.netns(self.ns):
            return dns.query.udp(dns.message.make_query(name, "A"), server, timeout=timeout)

    def a(self, server: str, name: str) -> tuple[str, list[str]]:
        m = self.query(server, name)
        return dns.rcode.to_text(m.rcode()), [r.address for rr in m.answer for r in rr if rr.rdtype == 1]


def lab_namespaces() -> set[str]:
    return {n for n in netns.list_netns() if n.startswith(PREFIX)}


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    before = lab_namespaces()
    yield
    assert lab_namespaces() <= before, f"namespaces left behind: {lab_namespaces() - before}"


def client_for(lab: LabInstance, network: str) -> Client:
    return Client(lab.ns_of(network), lab.certs.ca_file)
