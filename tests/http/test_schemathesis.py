"""Property-based tests over the published OpenAPI schema (schemathesis): no 5xx, and every
answer conforms to its documented status code, content type and schema."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agent.http.deps import close_backends
from agent.settings import Settings
from server import create_app
from tests.http.conftest import Template

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Built at import (schemathesis' lazy fixture loader does not run under pytest 9); the database
# file is filled from the seeded template before the first case and removed after the last.
_DIR = Path(tempfile.mkdtemp(prefix="proofline-fuzz-"))
_APP = create_app(Settings(db=_DIR / "proofline.duckdb", brain="rules"))
# The board stream runs for max_seconds (up to an hour): it is tested on its own.
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP).exclude(path="/exceptions/stream")
# Random (valid and invalid) inputs only: the boundary "coverage" phase multiplies the cases
# several times over and would push this past its time budget.
schema.config.phases.update(phases=["examples", "fuzzing"])


_KEYS: dict[str, str] = {}


@schema.auth()
class _ApiKey:
    """Every case sends an ops_manager key (the role that may do the most), and no
    Idempotency-Key: random keys reused across bodies would turn most writes into 409s (the
    header has its own tests)."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return _KEYS.get("ops_manager", "(created by the fixture)")

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": data}
        case.headers.pop("Authorization", None)
        case.headers.pop("Idempotency-Key", None)


@pytest.fixture(scope="module", autouse=True)
def _fuzzed_database(template: Template) -> Iterator[None]:
    close_backends(_APP)  # loading the schema may have opened (and created) the file already
    for stale in _DIR.iterdir():
        stale.unlink()
    shutil.copy(template.path, _DIR / "proofline.duckdb")
    _KEYS.update(template.keys)
    yield
    close_backends(_APP)
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"X-API-Key": _KEYS["ops_manager"]}, checks=CHECKS)
