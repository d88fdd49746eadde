"""``censorwatch probe`` and ``censorwatch control serve`` as a user runs them (subprocesses)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
from controlnet import running_control
from probenet import Net

REPO = Path(__file__).resolve().parents[2]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENSORWATCH_")}
    env.update(PYTHONPATH=str(REPO / "src"), CENSORWATCH_CONFIG_DIR=str(tmp / "config"), COLUMNS="200")
    env.update(extra)
    return env


async def _cli(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "censorwatch", *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _probe_args(net: Net, control: str | None) -> list[str]:
    args = ["probe", "--system-resolver", net.probe_dns_addr, "--ca-file", str(net.ca_file), "--allow-loopback",
            "--resolver", "none", "--doh-url", "none", "--timeout", "2", "--no-progress"]
    return args + (["--control", control] if control else [])


async def test_consent_is_required_once_then_remembered(net: Net, tmp_path: Path) -> None:
    env = _env(tmp_path)
    code, out, err = await _cli([*_probe_args(net, None), net.url("ok.test")], env)
    assert code == 2 and out == ""
    assert "Before you run it, know the risks" in err and "--accept-risk" in err
    assert not (tmp_path / "config" / "consent.json").exists()
    code, out, err = await _cli([*_probe_args(net, None), "--accept-risk", "--out", "-", net.url("ok.test")], env)
    assert code == 0, err
    assert orjson.loads((tmp_path / "config" / "consent.json").read_bytes())["how"] == "--accept-risk"
    m = orjson.loads(out.splitlines()[0])
    assert m["test_keys"]["requests"][0]["response"]["code"] == 200
    # remembered: no flag needed any more; --every repeats the run
    code, out, err = await _cli([*_probe_args(net, None), "--every", "1s", "--repeat", "2", "--out", "-",
                                 net.url("ok.test")], env)
    assert code == 0 and "know the risks" not in err, err
    assert len(out.splitlines()) == 2 and "next run in 1 s" in err


async def test_interactive_yes_on_a_terminal(net: Net, tmp_path: Path) -> None:
    import pty

    master, slave = pty.openpty()
    args = [*_probe_args(net, None), "--out", str(tmp_path / "o.jsonl"), net.url("ok.test")]
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "censorwatch", *args, env=_env(tmp_path),
                                                stdin=slave, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    os.close(slave)
    try:
        assert proc.stdout is not None
        prompt = b""
        while b"Do you accept these risks" not in prompt:
            prompt += await asyncio.wait_for(proc.stdout.read(200), 30)
        os.write(master, b"y\n")
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert orjson.loads((tmp_path / "config" / "consent.json").read_bytes())["how"] == "interactive"
    assert (tmp_path / "o.jsonl").read_bytes().count(b"\n") == 1


async def test_lists_control_jsonl_and_summary(net: Net, tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "pk.csv").write_text(
        "url,category_code,category_description,date_added,source,notes\n"
        f"{net.url('ok.test')},NEWS,News Media,2024-02-17,cl,\n"
        f"{net.url('censored-nx.test')},POLR,Political Criticism,2024-02-17,cl,\n")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# my list\n\n{net.url('ok.test')}\n{net.url('valid.test', https=True)}\n")
    out = tmp_path / "out.jsonl"
    env = _env(tmp_path, CENSORWATCH_TEST_LISTS=str(lists), CENSORWATCH_LAB="1")  # lab mode from the env
    async with running_control(net, lab=True) as ctl:
        code, _, err = await _cli([*_probe_args(net, ctl.url), "--accept-risk", "--list", "pk", "-f", str(urls),
                                   "--out", str(out), "--cc", "PK", "--db", str(tmp_path / "cw.duckdb"),
                                   "--progress"], env)
    assert code == 0, err
    assert "stored 3 new measurements" in err
    ms = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert sorted(m["input"] for m in ms) == sorted([net.url("ok.test"), net.url("censored-nx.test"),
                                                      net.url("valid.test", https=True)])  # deduplicated
    by = {m["input"]: m for m in ms}
    assert by[net.url("censored-nx.test")]["test_keys"]["blocking"] == "dns"
    assert all(m["probe_cc"] == "PK" and m["annotations"]["censorwatch_lab"] for m in ms)
    assert "3/3 done, 1 blocked" in err and "anomaly" in err and "summary" in err
    # round trip: the analyser's CLI reads what the probe wrote and gives the same verdicts
    code, verdicts, err = await _cli(["classify", str(out)], env)
    assert code == 0, err
    vs = {v["input"]: v for v in map(orjson.loads, verdicts.splitlines())}
    assert len(vs) == 3
    for url, m in by.items():
        tk = m["test_keys"]
        for key in ("blocking", "accessible", "dns_consistency", "status_code_match", "body_length_match",
                    "headers_match", "title_match"):
            assert vs[url][key] == tk[key], (url, key)
        assert (vs[url]["status"], vs[url]["rule"]) == (tk["x_status"], tk["x_rule"])
    from censorwatch.store.db import Store

    with Store(tmp_path / "cw.duckdb", read_only=True) as store:
        counts = store.counts()
    assert counts["measurements"] == 3 and counts["verdicts"] == 3, counts


async def test_bad_inputs_are_located(net: Net, tmp_path: Path) -> None:
    env = _env(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("url,category_code\nhttp://ok.test/,NEWS\nftp://x.org/,NEWS\n")
    code, _, err = await _cli([*_probe_args(net, None), "--accept-risk", "--list", str(bad)], env)
    assert code == 2 and "bad.csv:3: 'ftp://x.org/': scheme must be http or https" in err
    code, _, err = await _cli(["probe", "--accept-risk", "--resolv-conf", str(tmp_path / "nope"),
                               "--lab", net.url("ok.test")], env)
    assert code == 2 and "cannot read" in err and "Traceback" not in err


async def test_ctrl_c_keeps_what_finished(net: Net, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    args = [*_probe_args(net, None), "--accept-risk", "--timeout", "30", "--out", str(out),
            net.url("ok.test"), net.url("ok.test", "/hang")]
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "censorwatch", *args, env=_env(tmp_path),
                                                stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    for _ in range(300):
        if out.exists() and out.read_bytes().count(b"\n") >= 1:
            break
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 130, err
    lines = out.read_bytes().splitlines()
    assert [orjson.loads(line)["input"] for line in lines] == [net.url("ok.test")]
    assert b"interrupted" in err


async def test_control_serve_cli(net: Net, tmp_path: Path) -> None:
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    c, k = net.ca.issue(["control.test"], ips=["127.0.0.1"])
    cert.write_bytes(c)
    key.write_bytes(k)
    env = _env(tmp_path)
    code, _, err = await _cli(["control", "serve", "--tls-cert", str(tmp_path / "missing.pem"),
                               "--tls-key", str(key)], env)
    assert code == 2 and "missing.pem: no such file" in err
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "censorwatch", "control", "serve", "--port", "0", "--tls-cert", str(cert),
        "--tls-key", str(key), "--lab-mode", "--resolver", net.th_dns_addr, "--ca-file", str(net.ca_file),
        env=env, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line.startswith("control server on https://127.0.0.1:"), line
        url = line.split()[3]
        out = tmp_path / "o.jsonl"
        code, _, err = await _cli([*_probe_args(net, url), "--accept-risk", "--out", str(out),
                                   net.url("censored-dns.test")], env)
        assert code == 0, err
        m = orjson.loads(out.read_bytes())
        assert m["test_keys"]["control"]["dns"]["addrs"] and m["test_keys"]["blocking"] == "dns"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 10)
