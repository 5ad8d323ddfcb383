"""The store: files, migrations, cursors per thread, transactions and conflict retries."""

from __future__ import annotations

import threading

import pytest

from record.errors import ConflictError, StoreError
from record.store import Store, migrations


def test_creates_file_and_applies_every_migration(tmp_path):
    path = tmp_path / "p.duckdb"
    with Store(path) as store:
        assert store.schema_version() == max(v for v, _, _ in migrations())
        tables = {
            r["table_name"] for r in store.rows("SELECT table_name FROM information_schema.tables")
        }
    assert {"shipments", "units", "custody_events", "audit_log", "exceptions"} <= tables
    with Store(path) as again:  # reopening applies nothing twice
        assert again.scalar("SELECT count(*) FROM schema_migrations") == len(migrations())


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope" / "p.duckdb")


def test_read_only_file_is_a_clear_error(tmp_path):
    path = tmp_path / "p.duckdb"
    Store(path).close()
    path.chmod(0o444)
    with pytest.raises(StoreError, match="read-only"):
        Store(path)


def test_transaction_rolls_back_on_error(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    with pytest.raises(RuntimeError), store.transaction() as cur:
        cur.execute("INSERT INTO meta VALUES ('a', '1')")
        raise RuntimeError("boom")
    assert store.get_meta("a") is None


def test_nested_transaction_joins_outer(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    with pytest.raises(RuntimeError), store.transaction():
        store.set_meta("a", "1")  # uses write(), which joins
        raise RuntimeError("boom")
    assert store.get_meta("a") is None


def test_conflicting_writers_are_retried(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    store.set_meta("counter", "0")

    def bump(cur):
        value = int(cur.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()[0])
        cur.execute("UPDATE meta SET value = ? WHERE key = 'counter'", [str(value + 1)])

    def worker():
        for _ in range(10):
            store.write(bump, attempts=50)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_meta("counter") == "40"


def test_conflict_surfaces_as_conflict_error(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    store.set_meta("k", "0")
    other = store._conn.cursor()  # a second "thread"
    other.execute("BEGIN")
    other.execute("UPDATE meta SET value = '1' WHERE key = 'k'")
    with pytest.raises(ConflictError), store.transaction() as cur:
        cur.execute("UPDATE meta SET value = '2' WHERE key = 'k'")
    other.execute("COMMIT")
    assert store.get_meta("k") == "1"
