"""The HTTP API against its OpenAPI description: schemathesis generates requests for every
operation (valid and not) and checks each answer's status, content type and body against
the description; no request may end in a server error."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from collector_helpers import make_config, running
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from collector.web.openapi import SPEC

schema = schemathesis.openapi.from_dict(SPEC)
READ = "r3ad"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    (tmp / "read").write_text(READ + "\n")
    # the enrolment secret is the read token here, so that generated enrolments succeed too
    cfg = make_config(
        tmp,
        http={"read_token_file": str(tmp / "read")},
        compliance={"enabled": True},
        enrolment={"secret_file": str(tmp / "read")},
    )
    with running(cfg) as c:
        yield f"http://127.0.0.1:{c.http.port}"


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_described(case, api):
    # a request can be valid by the description and still refused with a 400 that says why
    # (a report dated before validation.min_time, a PUE of a category the datacenter does
    # not measure); every other check of schemathesis applies, server errors first
    case.call_and_validate(
        base_url=api,
        headers={"Authorization": f"Bearer {READ}"},
        excluded_checks=[positive_data_acceptance],
    )


def test_every_route_is_described_and_every_description_is_a_route(tmp_path):
    with running(make_config(tmp_path)) as c:
        app = c.http.server.config.app
        served = {(r.path, m) for r in app.routes for m in r.methods if m != "HEAD"}
        # the web view's HTML pages are for browsers, described in docs/report.md
        assert c.pages is not None
        pages = {(r.path, m) for r in c.pages.routes() for m in r.methods if m != "HEAD"}
    described = {(p, m.upper()) for p, ops in SPEC["paths"].items() for m in ops}
    assert served - pages == described
    doc = (Path(__file__).resolve().parent.parent / "docs/report.md").read_text()
    for path, _ in pages:
        assert f"`{path.split('{')[0].rstrip('/') or '/'}" in doc, path
