"""Informed consent: the first run explains the risk and needs a yes; the answer is remembered."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

ENV_CONFIG_DIR = "CENSORWATCH_CONFIG_DIR"

RISK_TEXT = """\
censorwatch measures which websites and services are blocked from the network you are on.

Before you run it, know the risks:
- Anyone watching your network (your ISP, your employer, your government) can see that this device
  connects to the sites on the test list, some of which may be illegal or sensitive where you are.
- Running a censorship-measurement tool may itself be seen as a political act; in some countries
  that carries legal or personal risk. There is no way to hide the measurements from the network.
- The results you save or submit include your country and network (AS number), never your IP
  address; use --no-asn to withhold the network too.

Only continue if you understand and accept these risks."""


def config_dir() -> Path:
    env = os.environ.get(ENV_CONFIG_DIR)
    return Path(env) if env else Path(platformdirs.user_config_dir("censorwatch"))


def consent_file() -> Path:
    return config_dir() / "consent.json"


def has_consented() -> bool:
    try:
        data = json.loads(consent_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("accepted") is True


def remember(how: str) -> Path:
    path = consent_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"accepted": True, "how": how, "at": datetime.now(UTC).isoformat()}),
                    encoding="utf-8")
    return path
