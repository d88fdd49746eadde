"""The bytes the world serves: site pages, the blockpage (docs/contracts.md), the CAPTCHA challenge."""

from __future__ import annotations

import functools
import hashlib
import html
from typing import Final

LARGEFILE_SIZE: Final = 8 * 1024 * 1024

BLOCKPAGE_HTML: Final = (
    b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
    b"<meta name=\"censorwatch-blockpage\" content=\"lab\">\n"
    b"<title>Blocked by the lab censor</title></head>\n"
    b"<body><h1>This website is not accessible</h1>\n"
    b"<p>Access to this website has been blocked under the lab's rules. (censorwatch lab blockpage)</p>\n"
    b"</body></html>\n"
)


def _filler(seed: str, size: int) -> str:
    words: list[str] = []
    h = hashlib.sha256(seed.encode()).hexdigest()
    while sum(len(w) + 1 for w in words) < size:
        h = hashlib.sha256(h.encode()).hexdigest()
        words.append("lorem" + h[:6])
    return " ".join(words)


@functools.lru_cache(maxsize=256)
def page(host: str, title: str, path: str = "/") -> bytes:
    t = html.escape(title or host)
    body = (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n"
        f"<h1>{t}</h1>\n<p>This is {html.escape(host)} in the censorwatch lab. "
        f"Path {html.escape(path)}.</p>\n<p>{_filler(host, 1500)}</p>\n</body></html>\n"
    )
    return body.encode()


@functools.lru_cache(maxsize=2)
def largefile(host: str) -> bytes:
    head = f"<!DOCTYPE html><html><head><title>Large file at {host}</title></head><body><pre>\n".encode()
    tail = b"\n</pre></body></html>\n"
    line = b"0123456789abcdef" * 4 + b"\n"
    n = (LARGEFILE_SIZE - len(head) - len(tail)) // len(line) + 1
    return head + line * n + tail


def captcha(host: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html><head><title>Attention Required! | Cloudflare</title></head>\n"
        "<body><h1>Please complete the security check to access</h1>\n"
        f"<p>{html.escape(host)} is using a security service. One more step: please verify you are a "
        "human.</p><form id=\"challenge-form\"><div class=\"cf-captcha\"></div></form>\n"
        "<p>Cloudflare Ray ID: lab</p></body></html>\n"
    ).encode()


def not_found(path: str) -> bytes:
    return f"<html><head><title>404 Not Found</title></head><body>{html.escape(path)}</body></html>\n".encode()
