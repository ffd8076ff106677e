"""Errors of the model gateway: what a worker may catch and record in state."""

from __future__ import annotations

from collections.abc import Mapping


class GatewayError(Exception):
    """Base of every error a model call through the gateway can raise.

    Attributes:
        usage: `input_tokens` and `output_tokens` the failed call spent, summed over its
            HTTP calls, as far as known (zeros by default). An answer the endpoint sent
            but that did not parse may come without usage (the openai client raises before
            handing the body over when it parses strict JSON schemas itself): then zeros.
            Timeouts, 5xx and 429 report no usage.
        cost_usd: What that spend costs at the registry's prices (0.0 when unknown).
    """

    usage: dict[str, int]
    cost_usd: float

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.usage = {"input_tokens": 0, "output_tokens": 0}
        self.cost_usd = 0.0


class ProviderUnavailable(GatewayError):
    """No endpoint of the tier, nor of its allowed fallback tier, can serve now.

    Every candidate's circuit is open, its provider is down, or it is rate-limited beyond
    the agent's time budget. The workflow should park with its state intact and resume
    later; nothing was lost.

    Attributes:
        tier: The tier that was asked for.
        reasons: Endpoint name → why it could not serve.
    """

    def __init__(self, tier: str, reasons: Mapping[str, str]) -> None:
        self.tier = tier
        self.reasons = dict(reasons)
        detail = "; ".join(f"{name}: {why}" for name, why in self.reasons.items()) or "none"
        super().__init__(f"no endpoint can serve the {tier} tier now ({detail})")


class ModelCallFailed(GatewayError):
    """The bounded retries on server errors and timeouts are exhausted.

    Attributes:
        agent: The agent the call was made for.
        endpoint: The endpoint of the last attempt.
        cause: Short description of the last failure.
    """

    def __init__(self, agent: str, endpoint: str, cause: str) -> None:
        self.agent = agent
        self.endpoint = endpoint
        self.cause = cause
        super().__init__(f"model call for {agent} failed on {endpoint}: {cause}")


class InvalidModelOutput(GatewayError):
    """The endpoint answered, but not with valid JSON matching the schema.

    The gate layer treats it as a failed attempt; the endpoint's circuit breaker does not
    count it as a failure (the endpoint is up, the model erred).

    Attributes:
        agent: The agent the call was made for.
        endpoint: The endpoint that answered.
        detail: What was wrong with the answer.
    """

    def __init__(self, agent: str, endpoint: str, detail: str) -> None:
        self.agent = agent
        self.endpoint = endpoint
        self.detail = detail
        super().__init__(f"invalid output from {endpoint} for {agent}: {detail}")


class ProviderRejected(GatewayError):
    """The provider refused the request as made: a configuration error, not an outage.

    Raised at once, without retry or fallback, on HTTP 400, 401, 403, 404 or 422, on an
    answer whose body says the request format (e.g. `response_format`) is refused, and on
    a credential that cannot be read. A worker counts it against its retry budget; the
    run does not park, since waiting does not fix a wrong key, URL, model or format.

    Attributes:
        agent: The agent the call was made for.
        endpoint: The endpoint that refused (or could not be called).
        url: That endpoint's base URL.
        status: The HTTP status, or None when no request was sent (missing credential).
        detail: The provider's error body (truncated), or why no request was sent.
    """

    def __init__(
        self, agent: str, endpoint: str, url: str, *, status: int | None, detail: str
    ) -> None:
        self.agent = agent
        self.endpoint = endpoint
        self.url = url
        self.status = status
        self.detail = detail
        what = f"HTTP {status}: {detail}" if status is not None else detail
        super().__init__(f"endpoint {endpoint} ({url}) refused the call for {agent}: {what}")


class SecretError(GatewayError):
    """A credential could not be read (the message names the reference, never a value)."""


class SecretNotFound(SecretError):
    """No provider holds the credential reference."""


class InsecureSecretFile(SecretError):
    """A secret file is readable or writable by others than its owner (mode is not 0600)."""


class RegistryError(ValueError):
    """The model registry file is malformed; the message names the key path at fault."""
