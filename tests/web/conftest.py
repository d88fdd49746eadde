from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import web_fixture_db as fixture_db
from fastapi.testclient import TestClient

from censorwatch.store.views import open_db
from censorwatch.web.app import create_app

ADMIN = "s3cret-admin-token"


@pytest.fixture(scope="session")
def fixture_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session; each test gets its own copy (tests write annotations, alert state)."""
    path = tmp_path_factory.mktemp("webdb") / "template.duckdb"
    fixture_db.build(path)
    return path


@pytest.fixture()
def store(tmp_path: Path, fixture_template: Path) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    path = tmp_path / "fixture.duckdb"
    shutil.copyfile(fixture_template, path)
    con = open_db(path)
    yield path, con
    con.close()  # the app's shutdown waited for its cache refreshes: nothing else holds it


@pytest.fixture()
def client(store: tuple[Path, duckdb.DuckDBPyConnection]) -> Iterator[TestClient]:
    path, con = store
    app = create_app(con, db_path=path, admin_token=ADMIN)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def ro_client(fixture_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One server per module for tests that only read (cheaper than a fresh copy per test)."""
    path = tmp_path_factory.mktemp("webro") / "fixture.duckdb"
    shutil.copyfile(fixture_template, path)
    con = open_db(path)
    with TestClient(create_app(con, db_path=path, admin_token=ADMIN), raise_server_exceptions=False) as c:
        yield c
    con.close()
