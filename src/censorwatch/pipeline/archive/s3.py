"""Anonymous S3 access through boto3: list prefixes, stream objects.

The endpoint is boto3's own choice (``AWS_ENDPOINT_URL``, then AWS) unless ``endpoint_url`` is given,
so any S3-compatible server works. Requests are unsigned (OONI's bucket is public, part of AWS Open
Data); a server that refuses them is asked again with the configured credentials, if any
(``Client``). boto3 retries throttled and failed requests itself (``standard`` mode).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

#: OONI's bucket lives in eu-central-1; used when no region is configured
DEFAULT_REGION = "eu-central-1"
#: listing is latency-bound: this many prefixes are listed at once
LIST_THREADS = 8


class ArchiveError(RuntimeError):
    """The archive cannot be reached or read; the message says why. ``retry``: it may pass."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class Client:
    """S3 requests, unsigned; signed with the configured AWS credentials only when a server refuses
    an unsigned request (403) and credentials exist (a private mirror, a local server without a
    public policy). OONI's bucket answers unsigned requests: no credentials are needed or looked up."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url or None
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        self._anonymous = self._make(signed=False)
        self._signed: Any = None
        self.signed = False

    def _make(self, *, signed: bool) -> Any:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=LIST_THREADS + 2,
                     connect_timeout=20, read_timeout=60,
                     **({} if signed else {"signature_version": UNSIGNED}))
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                                              config=cfg)

    def _call(self, method: str, **kw: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return getattr(self._signed if self.signed else self._anonymous, method)(**kw)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if self.signed or status != 403 or not self._sign():
                raise
            return getattr(self._signed, method)(**kw)

    def _sign(self) -> bool:
        """Switch to signed requests if credentials are configured; whether it did."""
        import boto3

        if self._signed is None:
            if boto3.session.Session().get_credentials() is None:
                return False
            self._signed = self._make(signed=True)
        self.signed = True
        return True

    def list_objects_v2(self, **kw: Any) -> Any:
        return self._call("list_objects_v2", **kw)

    def get_object(self, **kw: Any) -> Any:
        return self._call("get_object", **kw)


def client(endpoint_url: str | None = None) -> Client:
    """An S3 client for the archive (``endpoint_url`` wins over ``AWS_ENDPOINT_URL``)."""
    return Client(endpoint_url)


def _pages(s3: Any, **kw: Any) -> Iterator[dict[str, Any]]:
    """``list_objects_v2`` page by page."""
    while True:
        page = s3.list_objects_v2(**kw)
        yield page
        if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
            return
        kw["ContinuationToken"] = page["NextContinuationToken"]


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def list_dirs(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The names of the "directories" right under ``prefix`` (common prefixes; objects not listed)."""
    names: list[str] = []
    try:
        for page in _pages(s3, Bucket=bucket, Prefix=prefix, Delimiter="/"):
            names.extend(p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", []))
    except _errors() as exc:
        raise ArchiveError(f"cannot list s3://{bucket}/{prefix}: {exc}") from exc
    return names


def list_objects(s3: Any, bucket: str, prefix: str) -> list[ObjectInfo]:
    """Every object under ``prefix`` (recursively), in key order."""
    out: list[ObjectInfo] = []
    try:
        for page in _pages(s3, Bucket=bucket, Prefix=prefix):
            out.extend(ObjectInfo(bucket, o["Key"], int(o["Size"]), str(o.get("ETag", "")).strip('"'))
                       for o in page.get("Contents", []))
    except _errors() as exc:
        raise ArchiveError(f"cannot list s3://{bucket}/{prefix}: {exc}") from exc
    return out


def list_many(s3: Any, prefixes: list[tuple[str, str]]) -> Iterator[list[ObjectInfo]]:
    """``list_objects`` of each ``(bucket, prefix)``, several at a time, in the order given."""
    if len(prefixes) <= 1:
        yield from (list_objects(s3, b, p) for b, p in prefixes)
        return
    with ThreadPoolExecutor(LIST_THREADS, thread_name_prefix="s3-list") as pool:
        yield from pool.map(lambda bp: list_objects(s3, *bp), prefixes)


class Body(io.RawIOBase):
    """An object's bytes as they arrive, counted; a transport failure is kept in ``error``.

    Telling a transport failure (the connection broke: fetch again) from damaged content (the
    object itself is corrupt: fetching again gives the same bytes) decides whether an object is done.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream
        self.received = 0
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        try:
            data = self._stream.read(len(buf))
        except Exception as exc:
            self.error = exc
            raise
        n = len(data)
        buf[:n] = data
        self.received += n
        return n

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            super().close()


def open_object(s3: Any, obj: ObjectInfo) -> Body:
    """Start fetching ``obj`` (the version listed: a changed ETag fails the request)."""
    try:
        kw: dict[str, Any] = {"IfMatch": f'"{obj.etag}"'} if obj.etag else {}
        resp = s3.get_object(Bucket=obj.bucket, Key=obj.key, **kw)
    except _errors() as exc:
        raise ArchiveError(f"cannot fetch: {exc}", retry=_worth_retrying(exc)) from exc
    return Body(resp["Body"])


def fetch_all(s3: Any, obj: ObjectInfo) -> bytes:
    """The whole object in memory (read-ahead of small objects); ``ArchiveError`` when it fails."""
    body = open_object(s3, obj)
    try:
        with body:
            data = body.read()
    except Exception as exc:
        raise ArchiveError(f"transfer broke: {exc}", retry=True) from exc
    return bytes(data or b"")


def _worth_retrying(exc: BaseException) -> bool:
    """A failure that may pass: the connection, a timeout, a 5xx; not a refusal (403, 404, 412)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500
    return True


def worth_retrying(exc: BaseException) -> bool:
    if isinstance(exc, ArchiveError):
        return exc.retry
    return _worth_retrying(exc)
