"""The lab's certificates: a lab CA (trusted by the probe and control in lab runs), a CA nobody trusts,
and one EC P-256 leaf per host. Generated once and cached in the lab cache directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from censorwatch.lab.world import DEFAULT_WORLD, World

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

CERTS_VERSION = "2"
_LOCK = threading.Lock()
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CertFiles:
    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "censorwatch lab")])


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY).not_valid_after(now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(names: list[str], ips: list[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
          *, expired: bool = False) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    now = dt.datetime.now(dt.UTC)
    start, end = (now - 400 * _DAY, now - 30 * _DAY) if expired else (now - _DAY, now + 825 * _DAY)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder().subject_name(_name(names[0] if names else ips[0]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write(dir_: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertFiles:
    from cryptography.hazmat.primitives import serialization

    c, k = dir_ / f"{stem}.pem", dir_ / f"{stem}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    os.chmod(k, 0o600)
    return CertFiles(c, k)


class CertStore:
    """Paths of every certificate of a world; ``ensure()`` creates what is missing."""

    def __init__(self, cache_dir: Path, world: World = DEFAULT_WORLD) -> None:
        spec = repr(sorted((h.address, h.names) for h in world.hosts)) + CERTS_VERSION
        self.dir = cache_dir / f"certs-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
        self.world = world

    @property
    def ca_file(self) -> Path:
        return self.dir / "lab-ca.pem"

    def host(self, address: str) -> CertFiles:
        return CertFiles(self.dir / f"host-{address}.pem", self.dir / f"host-{address}.key")

    def special(self, stem: str) -> CertFiles:  # expired | wrong-host | untrusted
        return CertFiles(self.dir / f"{stem}.pem", self.dir / f"{stem}.key")

    def ensure(self) -> CertStore:
        if (self.dir / "complete").exists():
            return self
        import fcntl

        self.dir.parent.mkdir(parents=True, exist_ok=True)
        with _LOCK, open(self.dir.parent / ".certs.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs (threads and processes) make them once
            if not (self.dir / "complete").exists():
                self._generate()
        return self

    def _generate(self) -> None:
        tmp = self.dir.with_name(self.dir.name + f".tmp{os.getpid()}")
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        ca, ca_key = _ca("censorwatch lab CA")
        _write(tmp, "lab-ca", ca, ca_key)
        bad_ca, bad_key = _ca("untrusted root CA (censorwatch lab)")
        for h in self.world.hosts:
            names = [n for n in h.names if n]
            _write(tmp, f"host-{h.address}", *_leaf(names, [h.address], ca, ca_key))
        _write(tmp, "expired", *_leaf(["expired.badssl.com"], [], ca, ca_key, expired=True))
        _write(tmp, "wrong-host", *_leaf(["some-other-host.badssl.test"], [], ca, ca_key))
        _write(tmp, "untrusted", *_leaf(["untrusted-root.badssl.com", "*.badssl.com"], [], bad_ca, bad_key))
        (tmp / "complete").write_text("ok\n")
        shutil.rmtree(self.dir, ignore_errors=True)
        tmp.rename(self.dir)
