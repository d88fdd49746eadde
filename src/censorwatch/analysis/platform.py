"""Platform verdicts: which parts of a platform (web, api, media, app) are blocked, and how.

Each endpoint of a platform measurement is judged on its own:

- URL endpoints carry a full web_connectivity ``test_keys``; they are judged by the web_connectivity
  rules (``analysis.web.judge_test_keys``), fingerprints and control included: one implementation of
  the rules.
- TCP endpoints (``platform.tcp.*`` rules), with the control's DNS answer and connects (OONI's
  test-helper protocol) when a control was reachable: ``platform.tcp.ok`` any connection worked;
  ``platform.tcp.dns_down`` the name resolves for nobody (the control's DNS failed too) -> ``down``;
  ``platform.tcp.dns`` the name did not resolve for the probe only, or without control data
  (``dns.nxdomain`` / ``dns.failure``); ``platform.tcp.down`` the control could not connect either ->
  ``down``; ``platform.tcp.blocked`` every connection failed while the control connected, or without
  control data, as in OONI's app tests (``tcp.timeout`` / ``tcp.reset`` / ``tcp.refused``).

A part is ``blocked`` when every endpoint of it is anomalous (OONI's whatsapp rule: "blocked only if all
fail"), ``partial`` when some are, ``down`` when all are down, ``ok`` otherwise. The verdict
(``platform.blocked`` / ``platform.partial`` / ``platform.ok`` / ``platform.down``) names every part:
"web blocked by TLS reset (3/3); media reachable (3/3)"; ``method`` is the commonest method among the
blocked endpoints, ``status`` is ``confirmed`` when a blocked endpoint matched a confirming fingerprint.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from censorwatch.analysis.fingerprints import Fingerprints, default_fingerprints
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.web import judge_test_keys
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

PART_ORDER: Final = ("web", "api", "media", "app")
BLOCKED: Final = frozenset({"anomaly", "confirmed"})
_TCP_METHOD: Final = {F.GENERIC_TIMEOUT: "tcp.timeout", F.CONNECTION_RESET: "tcp.reset",
                      F.CONNECTION_REFUSED: "tcp.refused"}
_WORDS: Final = {"dns": "DNS", "tcp": "TCP", "tls": "TLS", "http": "HTTP"}


def method_words(method: str | None) -> str:
    """``tls.reset`` -> ``TLS reset``."""
    if not method:
        return "an unknown failure"
    head, _, tail = method.partition(".")
    return f"{_WORDS.get(head, head)} {tail}".strip()


def _control_tcp(tk: dict[str, Any]) -> bool | None:
    """Did the control connect to any of the endpoint's addresses? None: no control data."""
    ctl = tk.get("control")
    conns = ctl.get("tcp_connect") if isinstance(ctl, dict) else None
    if not isinstance(conns, dict) or not conns:
        return None
    return any(isinstance(c, dict) and c.get("status") for c in conns.values())


def _control_dns_failed(tk: dict[str, Any]) -> bool | None:
    ctl = tk.get("control")
    d = ctl.get("dns") if isinstance(ctl, dict) else None
    if not isinstance(d, dict):
        return None
    return F.normalize(d.get("failure")) is not None or not d.get("addrs")


def _tcp_endpoint(tk: dict[str, Any]) -> tuple[str, str | None, str]:
    entries = [e for e in tk.get("tcp_connect") or [] if isinstance(e, dict)]
    if any((e.get("status") or {}).get("success") for e in entries):
        return "ok", None, "platform.tcp.ok"
    if not entries:
        failure = F.normalize(tk.get("dns_failure"))
        if failure is None:
            return "failure", None, "platform.tcp.no_data"
        if _control_dns_failed(tk):
            return "down", None, "platform.tcp.dns_down"
        return "anomaly", "dns.nxdomain" if failure == F.DNS_NXDOMAIN else "dns.failure", "platform.tcp.dns"
    if _control_tcp(tk) is False:
        return "down", None, "platform.tcp.down"
    failure = F.normalize((entries[0].get("status") or {}).get("failure"))
    return "anomaly", _TCP_METHOD.get(failure or "", "tcp.failure"), "platform.tcp.blocked"


def endpoint_verdicts(m: Measurement, fps: Fingerprints | None = None) -> list[dict[str, Any]]:
    """One row per endpoint: ``id``, ``part``, ``status``, ``method``, ``rule``, ``confirmed``."""
    tk = m.test_keys or {}
    out: list[dict[str, Any]] = []
    prints = fps if fps is not None else default_fingerprints()
    for row in tk.get("endpoints") or []:
        if not isinstance(row, dict):
            continue
        etk = row.get("test_keys")
        base = {"id": row.get("id"), "part": row.get("part"), "target": row.get("target")}
        if not isinstance(etk, dict):
            out.append({**base, "status": "failure", "method": None, "rule": "platform.endpoint.no_data"})
            continue
        if row.get("kind") == "url":
            target = row.get("target")
            j = judge_test_keys(etk, target if isinstance(target, str) else None, cc=m.probe_cc, fps=prints,
                                lab=m.is_lab)
            out.append({**base, "status": j.status, "method": j.method, "rule": j.rule,
                        "fingerprint": j.fingerprint.id if j.fingerprint else None})
        else:
            status, method, rule = _tcp_endpoint(etk)
            out.append({**base, "status": status, "method": method, "rule": rule})
    return out


def part_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    parts: dict[str, dict[str, Any]] = {}
    for part in PART_ORDER:
        mine = [r for r in rows if r["part"] == part]
        if not mine:
            continue
        blocked = [r for r in mine if r["status"] in BLOCKED]
        down = [r for r in mine if r["status"] == "down"]
        judged = [r for r in mine if r["status"] != "failure"]
        if not judged:
            status = "unknown"
        elif len(blocked) == len(judged):
            status = "blocked"
        elif blocked:
            status = "partial"
        elif len(down) == len(judged):
            status = "down"
        else:
            status = "ok"
        methods = Counter(r["method"] for r in blocked if r["method"])
        parts[part] = {"status": status, "endpoints": len(mine), "blocked": len(blocked), "down": len(down),
                       "ok": sum(1 for r in mine if r["status"] == "ok"),
                       "methods": dict(methods.most_common()),
                       "confirmed": any(r["status"] == "confirmed" for r in blocked)}
    return parts


def _phrase(part: str, p: dict[str, Any]) -> str:
    n = f"({p['blocked']}/{p['endpoints']})"
    how = " and ".join(method_words(m) for m in p["methods"]) or "failures"
    if p["status"] == "blocked":
        return f"{part} blocked by {how} {n}"
    if p["status"] == "partial":
        return f"{part} partly blocked by {how} {n}"
    if p["status"] == "ok":
        down = f", {p['down']} down everywhere" if p["down"] else ""
        return f"{part} reachable ({p['ok']}/{p['endpoints']}{down})"
    return f"{part} {p['status']}"


def classify_platform(m: Measurement, fps: Fingerprints | None = None) -> Verdict:
    tk = m.test_keys or {}
    name = str(tk.get("platform") or m.input or m.test_name)
    rows = endpoint_verdicts(m, fps)
    parts = part_summary(rows)
    statuses = {p["status"] for p in parts.values()}
    if not parts or statuses == {"unknown"}:
        status, rule = "failure", "platform.no_data"
    elif "blocked" in statuses:
        status, rule = "anomaly", "platform.blocked"
    elif "partial" in statuses:
        status, rule = "anomaly", "platform.partial"
    elif statuses <= {"down", "unknown"}:
        status, rule = "down", "platform.down"
    else:
        status, rule = "ok", "platform.ok"
    if status == "anomaly" and any(p["confirmed"] for p in parts.values()):
        status = "confirmed"
    methods: Counter[str] = Counter()
    for p in parts.values():
        if p["status"] in ("blocked", "partial"):
            methods.update(p["methods"])
    method = methods.most_common(1)[0][0] if methods else None
    why = f"{name}: " + "; ".join(_phrase(k, v) for k, v in parts.items()) if parts else f"{name}: no endpoints"
    return make_verdict(
        m, status, rule, why, method=method,  # type: ignore[arg-type]
        blocking=None, accessible=None if status == "failure" else status in ("ok", "down"),
        details={"platform": name, "parts": {k: v["status"] for k, v in parts.items()}, "part_details": parts,
                 "endpoints": rows},
    )


def _failed_tcp(tk: dict[str, Any] | None) -> bool | None:
    if not isinstance(tk, dict):
        return None
    entries = tk.get("tcp_connect") or []
    if not entries:
        return True if tk.get("dns_failure") else None
    return not any((e.get("status") or {}).get("success") for e in entries if isinstance(e, dict))


def _failed_url(tk: dict[str, Any] | None) -> tuple[bool | None, str | None]:
    if not isinstance(tk, dict):
        return None, None
    failure = tk.get("http_experiment_failure") or tk.get("dns_experiment_failure")
    reqs = tk.get("requests") or []
    ok = any(isinstance(r, dict) and not r.get("failure") and (r.get("response") or {}).get("code") for r in reqs)
    return (not ok), (None if ok else failure)


def ooni_summary(test_name: str, tk: dict[str, Any]) -> dict[str, Any]:
    """The summary keys OONI's own test of that name carries (from the raw endpoint rows)."""
    rows = [r for r in tk.get("endpoints") or [] if isinstance(r, dict)]
    app = [r for r in rows if r.get("kind") == "tcp"]
    urls = [r for r in rows if r.get("kind") == "url"]

    def url_status(pred: str) -> tuple[str, str | None]:
        mine = [_failed_url(r.get("test_keys")) for r in urls if pred in str(r.get("target"))]
        if not mine:
            return "ok", None
        blocked = all(b for b, _ in mine)
        return ("blocked" if blocked else "ok"), (mine[0][1] if blocked else None)

    app_failed = [_failed_tcp(r.get("test_keys")) for r in app]
    all_app_blocked = bool(app_failed) and all(app_failed)
    if test_name == "whatsapp":
        web, web_f = url_status("https://web.whatsapp.com")
        reg, reg_f = url_status("v.whatsapp.net")
        return {"whatsapp_endpoints_status": "blocked" if all_app_blocked else "ok",
                "whatsapp_endpoints_blocked": sorted({str(r["target"]) for r, f in zip(app, app_failed, strict=True) if f}),
                "whatsapp_web_status": web, "whatsapp_web_failure": web_f,
                "registration_server_status": reg, "registration_server_failure": reg_f}
    if test_name == "telegram":
        web, web_f = url_status("https://web.telegram.org")
        return {"telegram_tcp_blocking": all_app_blocked, "telegram_http_blocking": all_app_blocked,
                "telegram_web_status": web, "telegram_web_failure": web_f}
    if test_name == "signal":
        failed = [_failed_url(r.get("test_keys")) for r in urls]
        bad = [f for b, f in failed if b]
        return {"signal_backend_status": "blocked" if bad else "ok", "signal_backend_failure": bad[0] if bad else None}
    if test_name == "facebook_messenger":
        out: dict[str, Any] = {"facebook_tcp_blocking": any(f for f in app_failed),
                               "facebook_dns_blocking": any(bool((r.get("test_keys") or {}).get("dns_failure")) for r in app)}
        for r, f in zip(app, app_failed, strict=True):
            if r.get("key"):
                out[f"{r['key']}_reachable"] = None if f is None else not f
                out[f"{r['key']}_dns_consistent"] = None  # needs the answers' ASN (AS32934): left to analysis
        return out
    return {}
