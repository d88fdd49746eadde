"""Test lists, URL files, configuration errors, consent storage and the privacy scrubber."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import typer

from censorwatch.cli.probe import parse_every
from censorwatch.probe import ProbeConfig, build_context, consent, lists, privacy


def test_citizenlab_csv(tmp_path: Path) -> None:
    p = tmp_path / "global.csv"
    p.write_text("url,category_code,category_description,date_added,source,notes\n"
                 "https://www.example.org/,NEWS,News,2020-01-01,x,\n\n"
                 "http://example.net/a?b=1,HUMR,Human Rights,2020-01-01,x,\"a, b\"\n")
    got = lists.read_citizenlab(p)
    assert [(t.url, t.category_code) for t in got] == [("https://www.example.org/", "NEWS"),
                                                      ("http://example.net/a?b=1", "HUMR")]
    assert got[1].source == f"{p}:4"


@pytest.mark.parametrize("text,error", [
    ("", "global.csv:1: empty file"),
    ("category_code,link\n", "global.csv:1: no 'url' column"),
    ("url,category_code\nhttp://ok.org/,NEWS\nexample.org,NEWS\n", "global.csv:3: 'example.org': scheme must be"),
    ("category_code,url\nNEWS\n", "global.csv:2: row has 1 columns, the url is column 2"),
    ("url\nhttp://[::1/\n", "global.csv:2: 'http://[::1/': Invalid IPv6 URL"),
])
def test_citizenlab_errors_are_located(tmp_path: Path, text: str, error: str) -> None:
    p = tmp_path / "global.csv"
    p.write_text(text)
    with pytest.raises(lists.InputError, match=error.replace("[", r"\[").replace("?", r"\?")):
        lists.read_citizenlab(p)


def test_url_file_and_list_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "urls.txt"
    f.write_text("# comment\nhttp://a.org/#frag\n\n  https://b.org/  \n")
    assert [t.url for t in lists.read_url_file(f)] == ["http://a.org/#frag", "https://b.org/"]
    f.write_text("http://a.org/\nnope\n")
    with pytest.raises(lists.InputError, match=r"urls.txt:2: 'nope': scheme must be http or https"):
        lists.read_url_file(f)
    monkeypatch.delenv(lists.ENV_LISTS, raising=False)
    with pytest.raises(lists.InputError, match=r"set \$CENSORWATCH_TEST_LISTS"):
        lists.resolve_list("pk")
    monkeypatch.setenv(lists.ENV_LISTS, str(tmp_path))
    (tmp_path / "pk.csv").write_text("url\n")
    assert lists.resolve_list("PK") == tmp_path / "pk.csv"
    with pytest.raises(lists.InputError, match=r"ir.csv does not exist"):
        lists.resolve_list("ir")
    assert lists.dedupe([lists.Target("http://a/"), lists.Target("http://a/")]) == [lists.Target("http://a/")]


def test_config_errors(tmp_path: Path) -> None:
    rc = tmp_path / "resolv.conf"
    rc.write_text("nameserver 127.0.0.53\n")
    base = dict(resolv_conf=rc, trust_system=False, ca_files=[])
    with pytest.raises(ValueError, match="no trust anchors"):
        build_context(ProbeConfig(**base))  # type: ignore[arg-type]
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"ca\.pem: not a PEM certificate file"):
        build_context(ProbeConfig(**{**base, "ca_files": [ca]}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"--asn 'ASX': expected AS12345"):
        build_context(ProbeConfig(resolv_conf=rc, probe_asn="ASX"))
    with pytest.raises(ValueError, match=r"--cc 'Pakistan'"):
        build_context(ProbeConfig(resolv_conf=rc, probe_cc="Pakistan"))
    with pytest.raises(ValueError, match=r"--control 'ftp://x'"):
        build_context(ProbeConfig(resolv_conf=rc, control_url="ftp://x"))
    ctx = build_context(ProbeConfig(resolv_conf=rc, probe_asn="17557", no_asn=True, probe_cc="pk"))
    assert (ctx.network.asn, ctx.network.cc, ctx.pinned_asn) == ("AS0", "PK", True)
    assert ctx.report_id.split("_")[1:4] == ["webconnectivity", "PK", "0"]


def test_every() -> None:
    assert parse_every("1h") == 3600 and parse_every("30m") == 1800 and parse_every("1.5s") == 1.5
    for bad in ("soon", "0h", "1w", ""):
        with pytest.raises(typer.BadParameter, match="expected a duration"):
            parse_every(bad)


def test_consent_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(consent.ENV_CONFIG_DIR, str(tmp_path / "cfg"))
    assert not consent.has_consented()
    (tmp_path / "cfg").mkdir()
    consent.consent_file().write_text("{broken")
    assert not consent.has_consented()
    consent.remember("interactive")
    assert consent.has_consented()


def test_scrub_fields_bodies_and_base64() -> None:
    ip = "203.0.113.7"
    m = {
        "probe_ip": ip,
        "test_keys": {
            "requests": [{"response": {"body": f"your ip is {ip}.", "headers": {"X-Client": ip}},
                          "request": {"url": "http://x/"}},
                         {"response": {"body": {"format": "base64",
                                                "data": base64.b64encode(f"\xff{ip}".encode("latin-1")).decode()}}}],
            "queries": [{"raw_response": base64.b64encode(b"\x00" + ip.encode()).decode(),
                         "answers": [{"ipv4": "203.0.113.70"}, {"ipv4": "1203.0.113.7"}]}],
            "control": {"client": {"ip": ip}},
        },
    }
    out = privacy.scrub(m, [ip])
    tk = out["test_keys"]
    assert out["probe_ip"] == "127.0.0.1"
    assert tk["requests"][0]["response"]["body"] == "your ip is [scrubbed]."
    assert tk["requests"][0]["response"]["headers"]["X-Client"] == "[scrubbed]"
    assert base64.b64decode(tk["requests"][1]["response"]["body"]["data"]) == b"\xff[scrubbed]"
    assert base64.b64decode(tk["queries"][0]["raw_response"]) == b"\x00[scrubbed]"
    # longer addresses that contain it are different addresses
    assert tk["queries"][0]["answers"] == [{"ipv4": "203.0.113.70"}, {"ipv4": "1203.0.113.7"}]
    assert tk["control"]["client"]["ip"] == "[scrubbed]"
    assert privacy.scrub({"probe_ip": "x", "a": "127.0.0.1"}, ["127.0.0.1"]) == {"probe_ip": "127.0.0.1",
                                                                               "a": "127.0.0.1"}
    v6 = privacy.scrub({"b": "from 2001:db8::7 and 2001:db8::77"}, ["2001:db8::7"])
    assert v6["b"] == "from [scrubbed] and 2001:db8::77"
