"""Internationalised names and paths reach the wire as the A-label and percent-encoded UTF-8."""

from __future__ import annotations

import pytest

from censorwatch.probe import errors
from censorwatch.probe.http import _target


def test_idna_host_becomes_its_a_label() -> None:
    assert _target("http://яндекс.рф/") == ("http", "xn--d1acpjx3f.xn--p1ai", 80, "/")


def test_non_ascii_path_is_percent_encoded_and_ascii_is_untouched() -> None:
    assert _target("https://a.example/тест?q=1")[3] == "/%D1%82%D0%B5%D1%81%D1%82?q=1"
    assert _target("https://a.example/a%20b?x=/y")[3] == "/a%20b?x=/y"


def test_an_impossible_label_is_a_clear_error() -> None:
    with pytest.raises(errors.InvalidRedirect):
        _target("http://" + "я" * 70 + ".рф/")


def test_fin_during_tls_is_eof_and_a_kernel_rst_is_a_reset() -> None:
    import errno

    assert errors.classify(ConnectionResetError("Connection lost")) == "eof_error"
    assert errors.classify(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")) == "connection_reset"
