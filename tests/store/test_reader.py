"""The streaming reader: every shape in the archive, and located errors that lose nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import ReadError, read_paths, strip_jsonc


def _msmt(i: int, **extra: object) -> dict[str, object]:
    d: dict[str, object] = {
        "test_name": "web_connectivity",
        "measurement_start_time": f"2024-02-17 10:00:{i:02d}",
        "probe_cc": "PK",
        "probe_asn": "AS17557",
        "input": f"https://x{i}.example/",
        "test_keys": {"queries": []},
    }
    d.update(extra)
    return d


def _split(items: list[Measurement | ReadError]) -> tuple[list[Measurement], list[ReadError]]:
    good = [x for x in items if isinstance(x, Measurement)]
    bad = [x for x in items if isinstance(x, ReadError)]
    return good, bad


def test_every_shared_sample_gives_a_measurement_or_a_located_error(samples: Path) -> None:
    files = sorted(p for p in samples.rglob("*") if p.is_file())
    assert len(files) >= 49
    for f in files:
        items = list(read_paths([f]))
        assert items, f"{f}: nothing read"
        for it in items:
            if isinstance(it, ReadError):
                assert it.source.startswith(str(f)) and it.reason
            else:
                assert it.test_name and it.measurement_start_time is not None
                assert it.raw_bytes and orjson.loads(it.raw_bytes) == it.raw


def test_whole_sample_tree_reads_without_errors(samples: Path) -> None:
    good, bad = _split(list(read_paths([samples])))
    assert bad == []
    assert len(good) == 50
    names = {m.test_name for m in good}
    assert {"web_connectivity", "whatsapp", "telegram", "signal", "tor", "openvpn"} <= names


def test_bare_test_keys_jsonc_gets_its_envelope_from_the_file_name(samples: Path) -> None:
    f = samples / "probe-cli" / "20230706183840.201925_PK_webconnectivity_19f5e0d803cbaea7.jsonc"
    (m,) = list(read_paths([f]))
    assert isinstance(m, Measurement)
    assert m.measurement_uid == "20230706183840.201925_PK_webconnectivity_19f5e0d803cbaea7"
    assert (m.test_name, m.probe_cc, m.probe_asn) == ("web_connectivity", "PK", "AS0")
    assert m.input == "https://mask.icloud.com/" and m.domain == "mask.icloud.com"
    assert m.measurement_start_time is not None and m.measurement_start_time.isoformat().startswith(
        "2023-07-06T18:38:40"
    )
    assert m.test_keys is not None and len(m.test_keys["tls_handshakes"]) > 10


def test_jsonl_bad_lines_are_located_and_the_rest_is_kept(tmp_path: Path) -> None:
    lines = [
        orjson.dumps(_msmt(1)),
        b"{not json",
        b"",
        orjson.dumps([1, 2]),
        orjson.dumps({"test_name": "web_connectivity"}),
        orjson.dumps(_msmt(2, test_keys=None)),
        orjson.dumps(_msmt(3, test_keys=[1])),
        orjson.dumps(_msmt(4)),
    ]
    f = tmp_path / "m.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    good, bad = _split(list(read_paths([f])))
    assert [m.input for m in good] == ["https://x1.example/", "https://x2.example/", "https://x4.example/"]
    assert [m.source for m in good] == [f"{f}:1", f"{f}:6", f"{f}:8"]
    assert good[1].test_keys is None
    sources = [e.source for e in bad]
    assert sources == [f"{f}:2", f"{f}:4[0]", f"{f}:4[1]", f"{f}:5", f"{f}:7"]
    assert "invalid JSON" in bad[0].reason
    assert "measurement_start_time" in bad[3].reason
    assert "test_keys" in bad[4].reason


def test_gzip_forms_and_pretty_single_documents(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(orjson.dumps(_msmt(1), option=orjson.OPT_INDENT_2))
    with gzip.open(tmp_path / "b.jsonl.gz", "wb") as fh:
        fh.write(orjson.dumps(_msmt(2)) + b"\n" + orjson.dumps(_msmt(3)) + b"\n")
    with gzip.open(tmp_path / "c.json.gz", "wb") as fh:  # one object a line, under a .json name
        fh.write(orjson.dumps(_msmt(4)) + b"\n" + orjson.dumps(_msmt(5)) + b"\n")
    (tmp_path / "notes.txt").write_text("ignored")
    good, bad = _split(list(read_paths([tmp_path])))
    assert bad == []
    assert sorted(m.input or "" for m in good) == [f"https://x{i}.example/" for i in range(1, 6)]
    assert good[0].source == str(tmp_path / "a.json")


def test_top_level_array_of_measurements(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_bytes(orjson.dumps([_msmt(1), "junk", _msmt(2)]))
    good, bad = _split(list(read_paths([f])))
    assert len(good) == 2 and [e.source for e in bad] == [f"{f}:1[1]"]


def test_jsonc_comments_are_stripped_but_not_inside_strings(tmp_path: Path) -> None:
    text = (
        "// header comment\n"
        "/* block\n comment */\n"
        '{"test_name": "web_connectivity", // trailing\n'
        ' "measurement_start_time": "2024-02-17 10:00:00",\n'
        ' "input": "https://a.example/path//x?q=/*not*/",\n'
        ' "probe_cc": "PK", "test_keys": {"note": "quote \\" // still text"}}\n'
    )
    f = tmp_path / "m.jsonc"
    f.write_text(text)
    (m,) = list(read_paths([f]))
    assert isinstance(m, Measurement)
    assert m.input == "https://a.example/path//x?q=/*not*/"
    assert m.test_keys == {"note": 'quote " // still text'}
    # line numbers survive stripping
    assert strip_jsonc(text.encode()).count(b"\n") == text.count("\n")


def test_syntax_error_in_a_pretty_document_is_reported_once_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.json"
    f.write_text('{\n  "test_name": "web_connectivity",\n  "input": ,\n}\n')
    items = list(read_paths([f]))
    assert len(items) == 1 and isinstance(items[0], ReadError)
    assert items[0].source == f"{f}:3"


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    body = b"".join(orjson.dumps(_msmt(i)) + b"\n" for i in range(50))
    data = gzip.compress(body)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[: len(data) - 20])
    good, bad = _split(list(read_paths([f])))
    assert 0 < len(good) < 50
    # located at the line the damage cut: the one after the last whole record
    assert len(bad) == 1 and bad[0].source == f"{f}:{len(good) + 1}" and "cannot read" in bad[0].reason


@pytest.mark.parametrize("damage", ["not gzip at all, just text\n", "short", ""])
def test_not_gzip_under_a_gz_name_is_a_located_error(tmp_path: Path, damage: str) -> None:
    bad = tmp_path / "a.jsonl.gz"
    bad.write_bytes(damage.encode())
    good = tmp_path / "b.jsonl.gz"
    good.write_bytes(gzip.compress(orjson.dumps(_msmt(1)) + b"\n"))
    items = list(read_paths([tmp_path]))
    errors, ok = _split(items)[1], _split(items)[0]
    assert len(ok) == 1
    if damage:  # an empty file holds no measurement and no error
        assert len(errors) == 1 and errors[0].source == str(bad) and "cannot read" in errors[0].reason


def test_missing_path_and_invalid_utf8(tmp_path: Path) -> None:
    f = tmp_path / "latin1.jsonl"
    f.write_bytes(orjson.dumps(_msmt(1)) + b'\n{"test_name": "\xff"}\n')
    items = list(read_paths([tmp_path / "nope.json", f]))
    assert isinstance(items[0], ReadError) and "no such file" in items[0].reason
    assert isinstance(items[1], Measurement)
    assert isinstance(items[2], ReadError) and items[2].source == f"{f}:2"


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""])
def test_utf8_bom(tmp_path: Path, bom: bytes) -> None:
    f = tmp_path / "bom.json"
    f.write_bytes(bom + orjson.dumps(_msmt(1)))
    (m,) = list(read_paths([f]))
    assert isinstance(m, Measurement)
