"""API keys: creation, hashing, 401s, bearer tokens, revocation, and the keys CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.cli import app as cli
from agent.http import auth
from record.errors import InputError, NotFoundError
from record.store import Store


def test_a_key_is_stored_only_as_a_salted_hash(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.duckdb")
    key, plaintext = auth.create_key(store, "auditor", "nightly export")
    row = store.row("SELECT * FROM api_keys WHERE key_id = ?", [key.key_id])
    assert row is not None
    secret = plaintext.split("_", 2)[2]
    assert secret not in json.dumps(row, default=str)
    assert row["hash"].startswith("sha256$") and row["prefix"] == f"pl_{key.key_id}"
    assert auth.authenticate(store, plaintext) == key
    assert auth.authenticate(store, plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert auth.authenticate(store, "pl_nope_nope") is None
    assert store.row("SELECT action FROM audit_log WHERE subject = ?", [key.key_id]) == {
        "action": "api_key.created"
    }


def test_unknown_role_and_unknown_key_are_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.duckdb")
    with pytest.raises(InputError, match="use one of"):
        auth.create_key(store, "admin")
    with pytest.raises(NotFoundError):
        auth.revoke_key(store, "000000000000")


def test_requests_without_a_valid_key_get_401(client: TestClient, template) -> None:
    for headers in (
        {},
        {"X-API-Key": "pl_abc_def"},
        {"X-API-Key": template.revoked_key},
        {"Authorization": "Basic Zm9vOmJhcg=="},
    ):
        response = client.get("/kpis", headers=headers)
        assert response.status_code == 401, headers
        body = response.json()
        assert body["error"] == "unauthorized" and "API key" in body["detail"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_bearer_token_works_like_the_header(client: TestClient, keys) -> None:
    response = client.get("/me", headers={"Authorization": f"Bearer {keys['auditor']}"})
    assert response.status_code == 200
    assert response.json()["role"] == "auditor"
    assert response.json()["actor"].startswith("key:")


def test_health_ready_and_console_need_no_key(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] and ready["schema_version"] == ready["expected_schema_version"]
    assert ready["audit"]["ok"]
    page = client.get("/")
    assert page.status_code == 200 and "Proofline" in page.text
    assert client.get("/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/vendor/swagger-ui-dist/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Proofline"


def test_revoked_key_stops_working(client: TestClient, store: Store) -> None:
    key, plaintext = auth.create_key(store, "ops_manager", "temp")
    assert client.get("/me", headers={"X-API-Key": plaintext}).status_code == 200
    auth.revoke_key(store, key.key_id)
    assert client.get("/me", headers={"X-API-Key": plaintext}).status_code == 401


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--role", "automation", "--name", "sensor gw", "--db", db, "--json"]
    )
    assert created.exit_code == 0, created.output
    info = json.loads(created.stdout)
    assert info["key"].startswith(f"pl_{info['key_id']}_") and info["role"] == "automation"
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--db", db, "--json"]).stdout)
    assert [k["key_id"] for k in listed] == [info["key_id"]]
    assert "key" not in listed[0]
    revoked = runner.invoke(cli, ["keys", "revoke", info["key_id"], "--db", db])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    store = Store(db)
    assert auth.authenticate(store, info["key"]) is None
    bad = runner.invoke(cli, ["keys", "create", "--role", "root", "--db", db])
    assert bad.exit_code != 0
