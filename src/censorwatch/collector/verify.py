"""Offline checks of the evidence log: a measurement against its receipt, an inclusion proof against a
signed tree head, two tree heads for consistency, a whole exported log against its tree head.

Each check returns a ``Report``: a list of findings (``ok``, message). Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from censorwatch.collector.canonical import NotCanonicalisable, canonical_bytes, decode
from censorwatch.collector.keys import LogVerifier
from censorwatch.collector.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion


class BadInput(ValueError):
    """A file cannot be read or is not the kind of document expected."""


@dataclass
class Report:
    findings: list[tuple[bool, str]] = field(default_factory=list)

    def ok(self, msg: str) -> None:
        self.findings.append((True, msg))

    def fail(self, msg: str) -> None:
        self.findings.append((False, msg))

    @property
    def passed(self) -> bool:
        return bool(self.findings) and all(ok for ok, _ in self.findings)


def load_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{path}: the {what} is not JSON: {exc}") from None


def load_key(path: Path) -> LogVerifier:
    raw = path.read_bytes() if path.exists() else None
    if raw is None:
        raise BadInput(f"{path}: no such key file")
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = raw.decode("ascii", "replace")
    try:
        return LogVerifier.from_document(doc)
    except ValueError as exc:
        raise BadInput(f"{path}: {exc}") from None


def _statement(doc: Any, key: str, path: Path, required: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(doc, dict) and isinstance(doc.get(key), dict):
        doc = doc[key]
    if not isinstance(doc, dict) or any(k not in doc for k in required):
        raise BadInput(f"{path}: not a {key} (needs {', '.join(required)})")
    return doc


def receipt_of(doc: Any, path: Path) -> dict[str, Any]:
    return _statement(doc, "receipt", path, ("leaf_index", "leaf_hash", "measurement_uid", "signature"))


def sth_of(doc: Any, path: Path) -> dict[str, Any]:
    return _statement(doc, "sth", path, ("tree_size", "root_hash", "signature"))


def _hex32(value: Any, what: str) -> bytes:
    try:
        b = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        b = b""
    if len(b) != 32:
        raise BadInput(f"{what} is not a 64-digit hex hash")
    return b


def measurement_leaf(data: bytes, report: Report, path: Path) -> tuple[bytes, Any]:
    """The leaf hash of a measurement file (its canonical bytes) and the decoded value."""
    try:
        value = decode(data)
        canon = canonical_bytes(value)
    except (orjson.JSONDecodeError, NotCanonicalisable) as exc:
        raise BadInput(f"{path}: the measurement is not valid JSON: {exc}") from None
    if data.rstrip(b"\n") == canon:
        report.ok(f"{path.name}: the file is byte for byte the log's canonical form")
    else:
        report.ok(f"{path.name}: the file is not in canonical form (formatting); its canonical bytes are checked")
    return leaf_hash(canon), value


def check_receipt(measurement: Path, receipt_path: Path, verifier: LogVerifier) -> Report:
    report = Report()
    receipt = receipt_of(load_json(receipt_path, "receipt"), receipt_path)
    problem = verifier.check_receipt(receipt)
    if problem:
        report.fail(f"receipt: {problem}")
        return report
    report.ok(f"receipt signature valid (log {verifier.log_id[:16]}..., leaf {receipt['leaf_index']})")
    try:
        data = measurement.read_bytes()
    except OSError as exc:
        raise BadInput(f"{measurement}: cannot read the measurement: {exc.strerror or exc}") from None
    h, value = measurement_leaf(data, report, measurement)
    if h.hex() == receipt["leaf_hash"]:
        report.ok(f"measurement hash {h.hex()[:16]}... matches the receipt")
    else:
        report.fail(
            f"measurement does NOT match the receipt: leaf hash {h.hex()} != {receipt['leaf_hash']} "
            "(the measurement was altered after it was logged)"
        )
    uid = value.get("measurement_uid") if isinstance(value, dict) else None
    if uid is not None and uid != receipt["measurement_uid"]:
        report.fail(f"measurement_uid {uid!r} is not the receipt's {receipt['measurement_uid']!r}")
    return report


def check_inclusion(
    proof_path: Path,
    verifier: LogVerifier,
    *,
    sth_path: Path | None = None,
    measurement: Path | None = None,
    receipt_path: Path | None = None,
) -> Report:
    report = Report()
    proof = load_json(proof_path, "inclusion proof")
    if not isinstance(proof, dict) or not all(k in proof for k in ("leaf_index", "leaf_hash", "tree_size", "audit_path")):
        raise BadInput(f"{proof_path}: not an inclusion proof (needs leaf_index, leaf_hash, tree_size, audit_path)")
    if sth_path is not None:
        sth = sth_of(load_json(sth_path, "signed tree head"), sth_path)
    elif isinstance(proof.get("sth"), dict):
        sth = proof["sth"]
    else:
        raise BadInput(f"{proof_path}: the proof embeds no STH; pass --sth")
    problem = verifier.check_sth(sth)
    if problem:
        report.fail(f"tree head: {problem}")
        return report
    report.ok(f"tree head signature valid (size {sth['tree_size']})")
    h = _hex32(proof["leaf_hash"], "leaf_hash")
    idx, size = proof["leaf_index"], proof["tree_size"]
    if not isinstance(idx, int) or not isinstance(size, int) or not isinstance(proof["audit_path"], list):
        raise BadInput(f"{proof_path}: leaf_index and tree_size must be integers, audit_path a list")
    if size != sth["tree_size"]:
        report.fail(f"the proof is for a tree of size {size}, the tree head is of size {sth['tree_size']}")
        return report
    if measurement is not None:
        mh, _ = measurement_leaf(measurement.read_bytes(), report, measurement)
        if mh != h:
            report.fail(f"{measurement.name}: leaf hash {mh.hex()} is not the proof's {h.hex()} (altered)")
    if receipt_path is not None:
        receipt = receipt_of(load_json(receipt_path, "receipt"), receipt_path)
        problem = verifier.check_receipt(receipt)
        if problem:
            report.fail(f"receipt: {problem}")
        elif receipt["leaf_index"] != idx:
            report.fail(
                f"the receipt promised leaf index {receipt['leaf_index']} but the log now has this entry at "
                f"{idx}: entries were reordered or dropped"
            )
        elif receipt["leaf_hash"] != h.hex():
            report.fail("the receipt's leaf hash differs from the log's entry: the entry was altered")
        else:
            report.ok(f"receipt matches the proof (leaf {idx})")
    path = [_hex32(p, "audit_path item") for p in proof["audit_path"]]
    root = _hex32(sth["root_hash"], "root_hash")
    if verify_inclusion(h, idx, size, path, root):
        report.ok(f"leaf {idx} is included in the tree of size {size} (root {root.hex()[:16]}...)")
    else:
        report.fail(
            f"the inclusion proof for leaf {idx} does not lead to the tree head's root: "
            "the entry or the proof was altered, moved or dropped"
        )
    return report


def check_consistency(old_path: Path, new_path: Path, proof_path: Path | None, verifier: LogVerifier) -> Report:
    report = Report()
    old = sth_of(load_json(old_path, "old tree head"), old_path)
    new = sth_of(load_json(new_path, "new tree head"), new_path)
    for name, st in (("old", old), ("new", new)):
        problem = verifier.check_sth(st)
        if problem:
            report.fail(f"{name} tree head: {problem}")
            return report
    report.ok(f"both tree heads are signed by log {verifier.log_id[:16]}...")
    m, n = old["tree_size"], new["tree_size"]
    old_root, new_root = _hex32(old["root_hash"], "old root_hash"), _hex32(new["root_hash"], "new root_hash")
    if n < m:
        report.fail(f"the log was rolled back: tree size went from {m} to {n}")
        return report
    if n == m:
        if old_root == new_root:
            report.ok(f"same tree (size {m}, same root)")
        else:
            report.fail(f"fork: two different roots for the same tree size {m}: the log was rewritten")
        return report
    if proof_path is None:
        raise BadInput("the tree grew: pass --proof (GET /api/v1/log/proof/consistency?first=M&second=N)")
    proof = load_json(proof_path, "consistency proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("proof"), list):
        raise BadInput(f"{proof_path}: not a consistency proof (needs first, second, proof)")
    if (proof.get("first"), proof.get("second")) != (m, n):
        report.fail(f"the proof is for sizes {proof.get('first')}->{proof.get('second')}, not {m}->{n}")
        return report
    hashes = [_hex32(p, "proof item") for p in proof["proof"]]
    if verify_consistency(m, n, old_root, new_root, hashes):
        report.ok(f"the tree of size {n} is an append-only extension of the tree of size {m}")
    else:
        report.fail(
            f"NOT consistent: the tree of size {n} does not extend the tree of size {m}: "
            "entries were altered, dropped or reordered, or the log was rolled back and regrown"
        )
    return report


def check_log(export_dir: Path, verifier: LogVerifier | None, sth_path: Path | None = None) -> Report:
    """Recompute the whole tree from an export (``collector export``) and check every receipt."""
    report = Report()
    if verifier is None:
        verifier = load_key(export_dir / "key.json")
    sth_file = sth_path or export_dir / "sth.json"
    sth = sth_of(load_json(sth_file, "signed tree head"), sth_file)
    problem = verifier.check_sth(sth)
    if problem:
        report.fail(f"tree head: {problem}")
        return report
    leaves_file, receipts_file = export_dir / "leaves.jsonl", export_dir / "receipts.jsonl"
    try:
        lines = leaves_file.read_bytes().splitlines()
        receipts = receipts_file.read_bytes().splitlines()
    except OSError as exc:
        raise BadInput(f"{export_dir}: cannot read the export: {exc}") from None
    tree = MerkleTree()
    by_hash: dict[str, int] = {}
    bad_receipts = 0
    for i, line in enumerate(receipts):
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError:
            report.fail(f"receipts.jsonl:{i + 1}: not JSON")
            bad_receipts += 1
            continue
        problem = verifier.check_receipt(r)
        if problem:
            report.fail(f"receipts.jsonl:{i + 1}: {problem}")
            bad_receipts += 1
            continue
        by_hash[r["leaf_hash"]] = r["leaf_index"]
    first_bad: str | None = None
    for i, line in enumerate(lines):
        try:
            h = leaf_hash(canonical_bytes(decode(line)))
        except (orjson.JSONDecodeError, NotCanonicalisable) as exc:
            first_bad = first_bad or f"leaves.jsonl:{i + 1}: not valid JSON ({exc})"
            h = leaf_hash(line)
        tree.append(h)
        promised = by_hash.get(h.hex())
        if first_bad is None and promised is None:
            first_bad = f"leaves.jsonl:{i + 1}: entry {i} matches no signed receipt: it was altered"
        elif first_bad is None and promised != i:
            first_bad = (
                f"leaves.jsonl:{i + 1}: entry {i} was signed as leaf {promised}: entries were reordered or dropped"
            )
    if bad_receipts == 0:
        report.ok(f"{len(receipts)} receipts carry valid signatures")
    if first_bad:
        report.fail(first_bad)
    if tree.size != sth["tree_size"]:
        report.fail(f"the tree head covers {sth['tree_size']} leaves, the export has {tree.size}: entries were dropped or added")
    elif tree.root().hex() != sth["root_hash"]:
        report.fail("the recomputed root differs from the signed tree head: the log was altered")
    else:
        report.ok(f"recomputed root of {tree.size} leaves equals the signed tree head")
    return report


REPORT_FORMAT = "censorwatch-incident-proofs/1"


def check_report(report_path: Path, verifier: LogVerifier, measurements: Path | None = None) -> Report:
    """An incident report in JSON (``censorwatch report ID --format json``): its signed tree head, the
    inclusion proof of every evidence measurement against it, and (``measurements``: a JSON-lines
    file, e.g. what your probes wrote) that each proven leaf is byte for byte one of those."""
    report = Report()
    doc = load_json(report_path, "incident report")
    if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
        raise BadInput(f"{report_path}: not an incident report with proofs (censorwatch report ID --format json)")
    log = doc.get("log")
    evidence = [e.get("measurement_uid") for e in doc.get("evidence") or [] if isinstance(e, dict)]
    if not isinstance(log, dict) or not isinstance(log.get("sth"), dict):
        report.fail("the report carries no signed tree head: its evidence did not come through an evidence log")
        return report
    sth = sth_of(log["sth"], report_path)
    problem = verifier.check_sth(sth)
    if problem:
        report.fail(f"tree head: {problem}")
        return report
    root, size = _hex32(sth["root_hash"], "root_hash"), sth["tree_size"]
    report.ok(f"tree head signature valid (log {verifier.log_id[:16]}..., size {size}, root {root.hex()[:16]}...)")
    proofs = log.get("proofs")
    if not isinstance(proofs, list):
        raise BadInput(f"{report_path}: log.proofs must be a list")
    proven: dict[str, bytes] = {}
    bad: list[str] = []
    for p in proofs:
        if not isinstance(p, dict) or not all(k in p for k in ("measurement_uid", "leaf_index", "leaf_hash", "audit_path")):
            raise BadInput(f"{report_path}: a proof needs measurement_uid, leaf_index, leaf_hash, audit_path")
        h = _hex32(p["leaf_hash"], "leaf_hash")
        path = [_hex32(x, "audit_path item") for x in p["audit_path"]]
        if p.get("tree_size", size) == size and verify_inclusion(h, p["leaf_index"], size, path, root):
            proven[p["measurement_uid"]] = h
        else:
            bad.append(f"{p['measurement_uid']} (leaf {p['leaf_index']})")
    if bad:
        report.fail(f"{len(bad)} inclusion proofs do not lead to the signed root (altered, moved or dropped): "
                    + ", ".join(bad[:5]))
    if proven:
        report.ok(f"{len(proven)} evidence measurements are in the signed log (inclusion proofs to the root)")
    unproven = [u for u in evidence if u not in proven]
    if unproven:
        report.fail(f"{len(unproven)} of {len(evidence)} evidence measurements have no valid proof in the report: "
                    + ", ".join(map(str, unproven[:5])))
    if measurements is not None:
        _match_measurements(report, measurements, proven)
    return report


def _match_measurements(report: Report, path: Path, proven: dict[str, bytes]) -> None:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the measurements: {exc.strerror or exc}") from None
    mine: set[bytes] = set()
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                mine.add(leaf_hash(canonical_bytes(decode(line))))
            except (orjson.JSONDecodeError, NotCanonicalisable) as exc:
                raise BadInput(f"{path}:{i}: not a JSON measurement: {exc}") from None
    strangers = [u for u, h in proven.items() if h not in mine]
    if strangers:
        report.fail(f"{len(strangers)} proven evidence measurements are not in {path.name}: "
                    + ", ".join(strangers[:5]))
    else:
        report.ok(f"every proven evidence measurement is byte for byte one of the {len(mine)} in {path.name}")
