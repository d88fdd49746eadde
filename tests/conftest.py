from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CENSORWATCH_SHARED", REPO.parent / "shared"))


def pytest_configure(config: pytest.Config) -> None:
    """Fingerprint sets the user synced (``censorwatch fingerprints sync``) never reach the tests'
    verdicts: every test process and its children read an empty synced-sets folder of their own."""
    os.environ["CENSORWATCH_FINGERPRINTS_DATA"] = tempfile.mkdtemp(prefix="cw-fingerprints-")


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` beside the repository; tests that need it fail loudly (never skip) without it."""
    if not (SHARED / "data").is_dir():
        pytest.fail(f"../shared is missing: expected {SHARED}/data (set CENSORWATCH_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def samples(shared: Path) -> Path:
    return shared / "data" / "ooni-samples"


# Hypothesis: the "ci" profile (the default) keeps the fuzz suite under 3 minutes in CI and is
# derandomized, so every run of `make test` tries the same examples; "long"
# (`pytest tests/fuzz tests/model --hypothesis-profile=long`) runs 20 times more, from a new random
# seed each time: that is where new counterexamples are found, then kept with `@example`.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True, derandomize=True)
settings.register_profile("long", max_examples=1200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile("ci")
