"""The start-up probe of model endpoints: each configuration mistake named, nothing else."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.probe import probe_endpoints
from gateway.registry import EndpointConfig
from gateway.secrets import EnvSecretProvider


def endpoint(name: str = "ep", *, key_required: bool = True, model: str = "m-1") -> EndpointConfig:
    return EndpointConfig(
        name=name,
        base_url="http://models.example/v1",
        model=model,
        tier="small",
        price_in_per_mtok=0,
        price_out_per_mtok=0,
        credential="cred",
        api_key_required=key_required,
    )


def answering(status: int, body: Any = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/models"
        return httpx.Response(status, json=body if body is not None else {})

    return httpx.MockTransport(handler)


def refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("All connection attempts failed", request=request)


def busy(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def connect_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("timed out", request=request)


SECRETS = EnvSecretProvider({"CONDUCTOR_SECRET_CRED": "sk-test"}, fallback_var=None)
LISTING = {"data": [{"id": "m-1"}, {"id": "m-2"}]}


@pytest.mark.parametrize(
    ("transport", "ep", "problem", "warning"),
    [
        (answering(200, LISTING), endpoint(), None, None),
        (answering(404), endpoint(), None, None),
        (httpx.MockTransport(refusing), endpoint(), "not reachable: ConnectError", None),
        (httpx.MockTransport(connect_timeout), endpoint(), "not reachable: no answer", None),
        (httpx.MockTransport(busy), endpoint(), None, "connected, but GET /models gave no"),
        (answering(401), endpoint(), "answered HTTP 401: the API key (credential 'cred')", None),
        (answering(500), endpoint(), "answered HTTP 500", None),
        (answering(200, LISTING), endpoint(model="gpt-9"), "model 'gpt-9' is not among", None),
        (
            answering(200, LISTING),
            endpoint(model="gpt-9", key_required=False),
            None,
            "model 'gpt-9' is not among the models it lists (m-1, m-2)",
        ),
    ],
    ids=[
        "ok",
        "no-models-route",
        "unreachable",
        "connect-timeout",
        "busy",
        "key-refused",
        "error",
        "unknown-model",
        "keyless",
    ],
)
async def test_probe_names_the_endpoint_its_url_and_what_is_wrong(
    transport: httpx.MockTransport, ep: EndpointConfig, problem: str | None, warning: str | None
) -> None:
    report = await probe_endpoints([ep], SECRETS, transports={ep.name: transport})
    assert len(report.problems) == (problem is not None)
    assert len(report.warnings) == (warning is not None)
    for line, expected in ((report.problems, problem), (report.warnings, warning)):
        if expected:
            assert line[0].startswith("endpoint ep (http://models.example/v1): ")
            assert expected in line[0]


async def test_in_process_and_keyless_endpoints() -> None:
    in_process = endpoint("sim").model_copy(update={"in_process": True})
    report = await probe_endpoints([in_process], SECRETS)  # no network for in-process ones
    assert report.problems == [] and report.warnings == []
    missing_key = await probe_endpoints(
        [endpoint()], EnvSecretProvider({}, fallback_var=None), transports={"ep": answering(500)}
    )
    assert missing_key.problems == [], "a missing key is check_config's to report"
