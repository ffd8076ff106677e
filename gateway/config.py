"""The model registry's shapes: endpoints, tiers, retries, agents and profiles (pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["small", "large"]
TIER_RANK: dict[str, int] = {"small": 0, "large": 1}
"""Strength of each tier; a tier may only fall back to a stronger one."""

StructuredOutput = Literal["json_schema", "json_object_schema", "json_mode", "function_calling"]
STRUCTURED_OUTPUT_METHODS: tuple[str, ...] = (
    "json_schema",
    "json_object_schema",
    "json_mode",
    "function_calling",
)
"""How an endpoint is asked for JSON (see `EndpointConfig.structured_output`)."""

_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BreakerSettings(_Frozen):
    """Circuit-breaker settings of one endpoint."""

    failure_threshold: int = Field(default=5, ge=1, description="Consecutive failures to open.")
    recovery_timeout_s: float = Field(default=30.0, gt=0, description="Seconds open.")
    half_open_max_calls: int = Field(default=3, ge=1, description="Concurrent trial calls.")


class EndpointConfig(_Frozen):
    """One model endpoint: where it is, what it costs, how much it takes."""

    name: str = Field(pattern=_REF_PATTERN, description="Unique name within the profile.")
    base_url: str = Field(min_length=1, description="OpenAI-compatible base URL (…/v1).")
    model: str = Field(min_length=1, description="Model id sent in requests.")
    tier: Tier
    price_in_per_mtok: float = Field(ge=0, description="USD per million input tokens.")
    price_out_per_mtok: float = Field(ge=0, description="USD per million output tokens.")
    rps: float | None = Field(default=None, gt=0, description="Requests per second; none: no cap.")
    tpm: int | None = Field(default=None, gt=0, description="Tokens per minute; none: no cap.")
    timeout_s: float = Field(default=60.0, gt=0, description="HTTP timeout of one request.")
    max_in_flight: int = Field(
        default=64,
        ge=1,
        description=(
            "Admission control: requests sent to this endpoint at once; more wait for a permit "
            "before their timeout starts; a wait fails only when the endpoint finishes nothing "
            "for the agent's whole-call budget."
        ),
    )
    breaker: BreakerSettings = BreakerSettings()
    credential: str = Field(
        pattern=_REF_PATTERN, description="Credential reference for callers with no own key."
    )
    in_process: bool = Field(default=False, description="Served by the in-process simulator.")
    rate_limit_group: str | None = Field(
        default=None,
        description="Endpoints sharing one upstream quota share buckets and Retry-After.",
    )
    api_key_required: bool = Field(
        default=True, description="False for local servers that accept any key (vLLM, Ollama)."
    )
    structured_output: StructuredOutput = Field(
        default="json_schema",
        description=(
            "`json_schema`: response_format json_schema (OpenAI, vLLM, Ollama, llama.cpp "
            "server); `json_object_schema`: response_format json_object with a `schema` "
            "(llama-cpp-python); `json_mode`: json_object, the schema stated in the prompt; "
            "`function_calling`: a forced tool call."
        ),
    )

    @property
    def limit_group(self) -> str:
        """The name of the quota this endpoint draws on."""
        return self.rate_limit_group or self.name

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Return what a call with these token counts costs at this endpoint's prices."""
        return (
            input_tokens * self.price_in_per_mtok + output_tokens * self.price_out_per_mtok
        ) / 1_000_000


class TierConfig(_Frozen):
    """How a tier is served: its endpoints in fallback order and the tier it may fall to."""

    fallback_order: tuple[str, ...] = Field(min_length=1, description="Endpoint names, in order.")
    fallback_tier: Tier | None = Field(
        default=None, description="A stronger tier to use when none of these can serve."
    )


class RetrySettings(_Frozen):
    """Bounds on the attempts of one model call."""

    max_attempts: int = Field(default=3, ge=1, le=10, description="HTTP calls per model call.")
    backoff_base_s: float = Field(default=0.05, ge=0, description="First backoff, jittered.")
    backoff_max_s: float = Field(default=0.5, ge=0, description="Longest backoff.")
    default_retry_after_s: float = Field(
        default=1.0, ge=0, description="Wait after a 429 that carries no Retry-After."
    )


class AgentOverride(_Frozen):
    """A profile's changes to an agent's settings (a slow local model needs longer timeouts)."""

    timeout_s: float | None = Field(default=None, gt=0, description="Longest single request.")
    budget_s: float | None = Field(default=None, gt=0, description="Longest whole call.")
    max_tokens: int | None = Field(default=None, gt=0, description="Output cap (`max_tokens`).")
    cacheable: bool | None = Field(default=None, description="Answers may come from the cache.")


class ProfileConfig(_Frozen):
    """A set of endpoints and tiers: `sim`, `openai`, `compatible`, …."""

    description: str = ""
    secrets: Literal["sim", "store"] = Field(
        default="store",
        description="`sim`: a fixed dummy key per credential; `store`: secret files, then env.",
    )
    retry: RetrySettings = RetrySettings()
    endpoints: tuple[EndpointConfig, ...] = Field(min_length=1)
    tiers: dict[Tier, TierConfig] = Field(min_length=1)
    agents: dict[str, AgentOverride] = Field(
        default_factory=dict,
        description="Per-agent settings this profile changes (timeouts, budget, max_tokens).",
    )

    @property
    def simulated(self) -> bool:
        """True when any endpoint is the in-process simulator."""
        return any(endpoint.in_process for endpoint in self.endpoints)

    def endpoint(self, name: str) -> EndpointConfig:
        """Return the endpoint called `name`."""
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise KeyError(name)

    def route(self, tier: str) -> list[EndpointConfig]:
        """Endpoints that may serve `tier`, in order: its own, then its fallback tier's."""
        config = self.tiers.get(tier)  # type: ignore[call-overload]
        if config is None:
            return []
        own = [self.endpoint(name) for name in config.fallback_order]
        if config.fallback_tier is None:
            return own
        fallback = self.tiers[config.fallback_tier]
        return own + [self.endpoint(name) for name in fallback.fallback_order]


class AgentConfig(_Frozen):
    """How one agent calls models."""

    tier: Tier = Field(description="Default tier when the caller names none.")
    timeout_s: float = Field(default=10.0, gt=0, description="Longest single model request.")
    budget_s: float | None = Field(
        default=None,
        gt=0,
        description="Longest whole call, waits and retries included; 3 × timeout_s when unset.",
    )
    cacheable: bool = Field(default=False, description="Answers may come from the cache.")
    max_tokens: int = Field(
        default=512, gt=0, description="Output cap, sent as `max_tokens` in the request body."
    )
    credential: str | None = Field(
        default=None, pattern=_REF_PATTERN, description="Credential reference; the agent's name."
    )

    @property
    def total_budget_s(self) -> float:
        """The budget of one whole call."""
        return self.budget_s if self.budget_s is not None else 3 * self.timeout_s


class RegistryFile(_Frozen):
    """The whole `models.toml`."""

    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = Field(min_length=1)

    def agents_for(self, profile: str) -> dict[str, AgentConfig]:
        """The agents' settings under `profile`: the shared ones with its overrides applied."""
        overrides = self.profiles[profile].agents
        agents = dict(self.agents)
        for name, override in overrides.items():
            changes = override.model_dump(exclude_none=True)
            agents[name] = AgentConfig.model_validate({**agents[name].model_dump(), **changes})
        return agents
