"""Each service, as a real process, against property-based requests generated from its own OpenAPI.

Requests carry an admin identity (as the gateway would set it) so that they reach past the identity
check into the handlers; schemathesis varies everything else. A 5xx is a failure, and so is a
response the OpenAPI does not describe (status code, content type or body schema): the documents
must be complete.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from shop.testing import SERVICES, ServiceProcess, identity_headers

ADMIN = identity_headers(str(uuid.uuid4()), role="admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    run_dir = Path(tempfile.mkdtemp(prefix="shop-fuzz-"))
    env = {"PORTWAY_DATA_DIR": str(run_dir / "data"), "LOG_LEVEL": "WARNING"}
    process = ServiceProcess(request.param, run_dir, env, port=_free_port())
    process.start()
    try:
        asyncio.run(process.wait_ready())
        yield process
    finally:
        process.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_no_request_makes_the_service_fail(service: ServiceProcess) -> None:
    api = schemathesis.openapi.from_url(f"{service.base_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=service.base_url, headers=ADMIN, checks=CHECKS, timeout=10)

        no_server_error()
