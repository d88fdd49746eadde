"""A fake OONI archive on a real S3-compatible server (moto's server mode, on loopback).

Objects follow OONI's layouts (pipeline/archive/layout.py); every measurement is a simulator template
(pipeline/simulate/templates) with its own country, network, time and test. ``FakeArchive`` remembers
every line it put, so a test can compare what a store holds with what the archive holds.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.archive.layout import raw_key
from censorwatch.store.uid import stable_uid

TEMPLATES = Path(__file__).resolve().parents[2] / "src/censorwatch/pipeline/simulate/templates"
OUTCOMES = ("ok", "tls_reset", "dns_nxdomain", "blockpage", "tcp_timeout")
ASNS = {"PK": "AS17557", "IR": "AS58224", "IT": "AS3269", "RU": "AS12389"}


def measurement(cc: str, when: datetime, n: int, *, test: str = "web_connectivity", with_uid: bool = True) -> bytes:
    """One measurement line; ``with_uid=False`` leaves the uid out, as OONI's jsonl files do."""
    obj: dict[str, Any] = orjson.loads((TEMPLATES / f"{OUTCOMES[n % len(OUTCOMES)]}.json").read_bytes())
    t = when + timedelta(seconds=7 * n % 3600)
    obj.update(probe_cc=cc, probe_asn=ASNS.get(cc, "AS64500"), test_name=test,
               measurement_start_time=f"{t:%Y-%m-%d %H:%M:%S}", input=f"https://site{n % 13}.example/",
               report_id=f"{t:%Y%m%dT%H%M%SZ}_{test}_{cc}_{n}")
    obj["measurement_uid"] = f"{t:%Y%m%d%H%M%S}.{n:06d}_{cc}_{test.replace('_', '')}_{n:016x}" if with_uid else None
    if not with_uid:
        del obj["measurement_uid"]
    return orjson.dumps(obj)


@dataclass
class FakeArchive:
    endpoint: str
    bucket: str
    client: Any
    legacy_bucket: str = ""
    lines: dict[str, list[bytes]] = field(default_factory=dict)  # s3://bucket/key -> good lines

    def put(self, key: str, body: bytes, lines: Iterable[bytes] = (), *, bucket: str | None = None) -> str:
        b = bucket or self.bucket
        self.client.put_object(Bucket=b, Key=key, Body=body)
        url = f"s3://{b}/{key}"
        self.lines[url] = list(lines)
        return url

    def put_jsonl_gz(self, key: str, lines: list[bytes], *, bucket: str | None = None) -> str:
        return self.put(key, gzip.compress(b"\n".join(lines) + b"\n"), lines, bucket=bucket)

    def put_raw_hour(self, when: datetime, cc: str, test: str, count: int, *, part: int = 0,
                     start: int = 0, with_uid: bool = True) -> str:
        key = raw_key(when, cc, test, part)
        lines = [measurement(cc, when, start + i, test=test, with_uid=with_uid) for i in range(count)]
        return self.put_jsonl_gz(key, lines)

    def put_can(self, day: datetime, test: str, members: dict[str, list[bytes]], *, bucket: str) -> str:
        import lz4.frame

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, lines in members.items():
                data = b"\n".join(lines) + b"\n"
                info = tarfile.TarInfo(f"{day:%Y-%m-%d}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        key = f"canned/{day:%Y-%m-%d}/{test}.0.tar.lz4"
        good = [ln for name, lines in members.items() if name.endswith(".json") for ln in lines]
        return self.put(key, lz4.frame.compress(buf.getvalue()), good, bucket=bucket)

    def expected(self, urls: Iterable[str] | None = None) -> dict[str, bytes]:
        """``{measurement uid: exact line}`` of the good measurements in ``urls`` (default: all)."""
        out: dict[str, bytes] = {}
        for url in urls if urls is not None else self.lines:
            for line in self.lines[url]:
                out[stable_uid(Measurement.from_raw(orjson.loads(line), raw_bytes=line))] = line
        return out


def objects_under(archive: FakeArchive, prefix: str) -> list[str]:
    return [u for u in archive.lines if u.startswith(f"s3://{archive.bucket}/{prefix}")]
