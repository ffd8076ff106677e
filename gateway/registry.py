"""The model registry (`models.toml`): profiles, endpoints, tiers and agents, and the settings."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from gateway.config import (  # re-exported: callers import the shapes from here too
    STRUCTURED_OUTPUT_METHODS as STRUCTURED_OUTPUT_METHODS,
)
from gateway.config import TIER_RANK as TIER_RANK
from gateway.config import AgentConfig as AgentConfig
from gateway.config import AgentOverride as AgentOverride
from gateway.config import BreakerSettings as BreakerSettings
from gateway.config import EndpointConfig as EndpointConfig
from gateway.config import ProfileConfig as ProfileConfig
from gateway.config import RegistryFile as RegistryFile
from gateway.config import RetrySettings as RetrySettings
from gateway.config import StructuredOutput as StructuredOutput
from gateway.config import Tier as Tier
from gateway.config import TierConfig as TierConfig
from gateway.errors import RegistryError

PROFILE_ENV = "CONDUCTOR_MODEL_PROFILE"
MODELS_FILE_ENV = "CONDUCTOR_MODELS_FILE"
CACHE_DB_ENV = "CONDUCTOR_CACHE_DB"
DATABASE_URL_ENV = "DATABASE_URL"
CACHE_ENV = "CONDUCTOR_CACHE"
SECRETS_DIR_ENV = "CONDUCTOR_SECRETS_DIR"
SECRET_ENV_PREFIX = "CONDUCTOR_SECRET_"
OPENAI_KEY_ENV = "OPENAI_API_KEY"
STRUCTURED_OUTPUT_ENV = "CONDUCTOR_STRUCTURED_OUTPUT"

DEFAULT_PROFILE = "sim"
DEFAULT_MODELS_FILE = Path(__file__).with_name("models.toml")
DEFAULT_CACHE_PATH = Path("var/cache.db")
DEFAULT_SECRETS_DIR = Path("var/secrets")

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_registry(path: Path) -> RegistryFile:
    """Read and validate a registry file.

    Args:
        path: The TOML file.

    Returns:
        The validated registry (every profile checked, environment placeholders left as is).

    Raises:
        RegistryError: When the file is missing, not TOML, or invalid; the message names the
            file and the key path at fault (e.g. `profiles.sim.endpoints[1].tier: …`).
    """
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the model registry: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
    return parse_registry(raw, source=str(path))


def parse_registry(raw: Mapping[str, Any], *, source: str = "<registry>") -> RegistryFile:
    """Validate registry data already decoded from TOML.

    Args:
        raw: The decoded document.
        source: Name of the file, for messages.

    Returns:
        The validated registry.

    Raises:
        RegistryError: On the first problems found, each named by its key path.
    """
    try:
        registry = RegistryFile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_key_path(err['loc'])}: {_lower_first(err['msg'])}" for err in exc.errors()]
        raise RegistryError(f"{source}: " + "; ".join(problems)) from None
    problems = list(_cross_check(registry))
    if problems:
        raise RegistryError(f"{source}: " + "; ".join(problems))
    return registry


def resolve_profile(
    registry: RegistryFile, name: str, environ: Mapping[str, str], *, source: str = "<registry>"
) -> ProfileConfig:
    """Return profile `name` with `${VAR}` / `${VAR:-default}` placeholders filled from `environ`.

    Raises:
        RegistryError: When the profile does not exist or a placeholder has no value.
    """
    profile = registry.profiles.get(name)
    if profile is None:
        known = ", ".join(sorted(registry.profiles))
        raise RegistryError(f"{source}: profiles.{name}: no such profile (known: {known})")
    endpoints = []
    for index, endpoint in enumerate(profile.endpoints):
        changes: dict[str, str] = {}
        for field in ("base_url", "model"):
            value = getattr(endpoint, field)
            where = f"profiles.{name}.endpoints[{index}].{field}"
            filled = _fill_placeholders(value, environ, where=where, source=source)
            if filled != value:
                changes[field] = filled
        endpoints.append(endpoint.model_copy(update=changes) if changes else endpoint)
    return profile.model_copy(update={"endpoints": tuple(endpoints)})


class GatewaySettings(BaseModel):
    """Everything the gateway needs, read once at the edge (`from_env`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile_name: str = Field(description="The registry profile in use.")
    models_file: Path = Field(description="The registry file it came from.")
    profile: ProfileConfig = Field(description="The profile, placeholders filled.")
    agents: dict[str, AgentConfig] = Field(description="Agents known to the registry.")
    cache_path: Path = Field(default=DEFAULT_CACHE_PATH, description="SQLite response cache.")
    cache_enabled: bool = Field(default=True, description="False turns the cache off.")
    cache_database_url: str | None = Field(
        default=None,
        repr=False,
        exclude=True,
        description="PostgreSQL URL of the response cache (DATABASE_URL); wins over cache_path.",
    )
    secrets_dir: Path = Field(default=DEFAULT_SECRETS_DIR, description="One file per secret.")
    secret_env: dict[str, SecretStr] = Field(
        default_factory=dict,
        repr=False,
        exclude=True,
        description="CONDUCTOR_SECRET_* and OPENAI_API_KEY as found in the environment.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Build the settings from environment variables (the process's when None).

        Reads `CONDUCTOR_MODEL_PROFILE` (default "sim"), `CONDUCTOR_MODELS_FILE` (default the
        checked-in `gateway/models.toml`), `CONDUCTOR_CACHE_DB` (default var/cache.db),
        `CONDUCTOR_CACHE` ("off" disables the cache), `DATABASE_URL` (the cache then lives in
        that PostgreSQL database), `CONDUCTOR_SECRETS_DIR` (default var/secrets), the
        placeholders the profile names (e.g.
        `CONDUCTOR_COMPATIBLE_BASE_URL`), `CONDUCTOR_STRUCTURED_OUTPUT` (the structured-output
        method of every endpoint of the profile, overriding `models.toml`), and
        `CONDUCTOR_SECRET_*` / `OPENAI_API_KEY`.

        Raises:
            RegistryError: When the registry or the chosen profile is invalid.
        """
        env = os.environ if environ is None else environ
        path = Path(env.get(MODELS_FILE_ENV) or DEFAULT_MODELS_FILE)
        registry = load_registry(path)
        name = env.get(PROFILE_ENV) or DEFAULT_PROFILE
        profile = resolve_profile(registry, name, env, source=str(path))
        method = (env.get(STRUCTURED_OUTPUT_ENV) or "").strip()
        if method:
            profile = _with_structured_output(profile, method, source=STRUCTURED_OUTPUT_ENV)
        secret_env = {
            key: SecretStr(value)
            for key, value in env.items()
            if value and (key.startswith(SECRET_ENV_PREFIX) or key == OPENAI_KEY_ENV)
        }
        return cls(
            profile_name=name,
            models_file=path,
            profile=profile,
            agents=registry.agents_for(name),
            cache_path=Path(env.get(CACHE_DB_ENV) or DEFAULT_CACHE_PATH),
            cache_enabled=env.get(CACHE_ENV, "on").strip().lower() not in ("off", "0", "false"),
            cache_database_url=(env.get(DATABASE_URL_ENV) or "").strip() or None,
            secrets_dir=Path(env.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR),
            secret_env=secret_env,
        )

    def with_overrides(self, **changes: Any) -> GatewaySettings:
        """Return a copy with top-level fields replaced (e.g. `cache_enabled=False`).

        Raises:
            TypeError: On a name that is not a field.
        """
        unknown = set(changes) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"unknown gateway setting(s): {', '.join(sorted(unknown))}")
        return self.model_copy(update=changes)

    def with_agent(self, agent: str, **changes: Any) -> GatewaySettings:
        """Return a copy where one agent's entry has some fields replaced (or is added).

        Args:
            agent: The agent's name.
            **changes: `AgentConfig` fields (a new agent needs at least `tier`).
        """
        current = self.agents.get(agent)
        data = {**(current.model_dump() if current else {}), **changes}
        return self.model_copy(
            update={"agents": {**self.agents, agent: AgentConfig.model_validate(data)}}
        )

    def with_retry(self, **changes: Any) -> GatewaySettings:
        """Return a copy with the profile's retry settings changed."""
        retry = RetrySettings.model_validate({**self.profile.retry.model_dump(), **changes})
        return self.model_copy(update={"profile": self.profile.model_copy(update={"retry": retry})})

    def with_endpoint(self, name: str, **changes: Any) -> GatewaySettings:
        """Return a copy with one endpoint's fields changed (e.g. `breaker=BreakerSettings(…)`)."""
        endpoints = tuple(
            EndpointConfig.model_validate({**e.model_dump(), **changes}) if e.name == name else e
            for e in self.profile.endpoints
        )
        if all(e.name != name for e in self.profile.endpoints):
            raise KeyError(name)
        return self.model_copy(
            update={"profile": self.profile.model_copy(update={"endpoints": endpoints})}
        )

    def agent(self, name: str) -> AgentConfig | None:
        """Return the registry entry of agent `name`, if any."""
        return self.agents.get(name)


def _cross_check(registry: RegistryFile) -> Iterable[str]:
    """Yield the problems pydantic cannot see: names that must match across tables."""
    for agent, config in registry.agents.items():
        if config.budget_s is not None and config.budget_s < config.timeout_s:
            yield f"agents.{agent}.budget_s: must be at least timeout_s ({config.timeout_s})"
    for name, profile in registry.profiles.items():
        where = f"profiles.{name}"
        seen: dict[str, int] = {}
        for index, endpoint in enumerate(profile.endpoints):
            if endpoint.name in seen:
                yield (
                    f"{where}.endpoints[{index}].name: duplicate endpoint name "
                    f"{endpoint.name!r} (also endpoints[{seen[endpoint.name]}])"
                )
            seen.setdefault(endpoint.name, index)
        by_name = {endpoint.name: endpoint for endpoint in profile.endpoints}
        for tier, tier_config in profile.tiers.items():
            for index, endpoint_name in enumerate(tier_config.fallback_order):
                key = f"{where}.tiers.{tier}.fallback_order[{index}]"
                member = by_name.get(endpoint_name)
                if member is None:
                    yield f"{key}: unknown endpoint {endpoint_name!r}"
                elif member.tier != tier:
                    yield f"{key}: endpoint {endpoint_name!r} is of tier {member.tier!r}"
            fallback = tier_config.fallback_tier
            if fallback is not None:
                key = f"{where}.tiers.{tier}.fallback_tier"
                if TIER_RANK[fallback] <= TIER_RANK[tier]:
                    yield f"{key}: a tier may only fall back to a stronger tier"
                elif fallback not in profile.tiers:
                    yield f"{key}: tier {fallback!r} is not defined in {where}.tiers"
        for agent, agent_config in registry.agents.items():
            if agent_config.tier not in profile.tiers:
                yield f"{where}.tiers: no {agent_config.tier!r} tier, which agent {agent} uses"
        for agent, override in profile.agents.items():
            shared = registry.agents.get(agent)
            if shared is None:
                yield f"{where}.agents.{agent}: unknown agent (not in [agents])"
                continue
            timeout = override.timeout_s or shared.timeout_s
            budget = override.budget_s or shared.budget_s
            if budget is not None and budget < timeout:
                yield f"{where}.agents.{agent}.budget_s: must be at least timeout_s ({timeout})"


def _with_structured_output(profile: ProfileConfig, method: str, *, source: str) -> ProfileConfig:
    """Return `profile` with every endpoint asked for JSON by `method`.

    Raises:
        RegistryError: When `method` is not one of `STRUCTURED_OUTPUT_METHODS`.
    """
    if method not in STRUCTURED_OUTPUT_METHODS:
        known = ", ".join(STRUCTURED_OUTPUT_METHODS)
        raise RegistryError(f"{source}: unknown structured-output method {method!r} ({known})")
    endpoints = tuple(
        endpoint.model_copy(update={"structured_output": method}) for endpoint in profile.endpoints
    )
    return profile.model_copy(update={"endpoints": endpoints})


def _fill_placeholders(value: str, environ: Mapping[str, str], *, where: str, source: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise RegistryError(f"{source}: {where}: environment variable {name} is not set")

    return _PLACEHOLDER.sub(replace, value)


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "<root>"


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:]
