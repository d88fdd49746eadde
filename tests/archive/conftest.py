"""A real S3-compatible server (moto's server mode) on loopback, and a fresh fake archive per test."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from archive.fake import FakeArchive


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def archive(s3_endpoint: str, request: pytest.FixtureRequest) -> FakeArchive:
    """Two empty public buckets (the archive and its legacy can bucket) named for this test alone.

    Public as OONI's is: anyone may list and read (a bucket policy; objects are private otherwise,
    and unsigned requests are refused, as on AWS)."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-central-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    tag = uuid.uuid4().hex[:10]
    bucket, legacy = f"ooni-{tag}", f"ooni-legacy-{tag}"
    for b in (bucket, legacy):
        client.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        if request.node.get_closest_marker("private_bucket"):
            continue
        client.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}]}))
    return FakeArchive(s3_endpoint, bucket, client, legacy)
