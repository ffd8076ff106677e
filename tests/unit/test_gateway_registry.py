"""The model registry: the checked-in file loads, and a bad file names the key at fault."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import RegistryError
from gateway.registry import (
    DEFAULT_MODELS_FILE,
    GatewaySettings,
    RegistryFile,
    load_registry,
    parse_registry,
)


def _raw() -> dict[str, Any]:
    with DEFAULT_MODELS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


def test_checked_in_registry_has_the_three_profiles() -> None:
    registry = load_registry(DEFAULT_MODELS_FILE)
    assert set(registry.profiles) == {"sim", "openai", "compatible", "local"}
    sim = registry.profiles["sim"]
    assert [e.name for e in sim.endpoints] == ["sim-small-a", "sim-small-b", "sim-large-a"]
    assert {e.name: e.model for e in sim.endpoints} == {
        "sim-small-a": "sim-small",
        "sim-small-b": "sim-small",
        "sim-large-a": "sim-large",
    }
    assert all(e.in_process for e in sim.endpoints)
    assert sim.simulated
    small = sim.endpoint("sim-small-a")
    assert (small.price_in_per_mtok, small.price_out_per_mtok) == (0.15, 0.60)
    assert small.breaker.failure_threshold == 5
    assert small.breaker.recovery_timeout_s == 30
    assert small.breaker.half_open_max_calls == 3
    openai = registry.profiles["openai"]
    assert {e.model: e.tier for e in openai.endpoints} == {
        "gpt-4o-mini": "small",
        "gpt-4o": "large",
    }
    assert all(e.base_url == "https://api.openai.com/v1" for e in openai.endpoints)


def test_agents_cacheability_and_tiers() -> None:
    agents = load_registry(DEFAULT_MODELS_FILE).agents
    assert {a: c.cacheable for a, c in agents.items()} == {
        "classify_intent": True,
        "extract_entities": True,
        "decide_refund": False,
        "draft_reply": False,
        "classify_document": True,
        "extract_document_entities": True,
        "extract_relationships": True,
    }
    assert agents["decide_refund"].tier == "large"
    support = ("classify_intent", "extract_entities", "decide_refund", "draft_reply")
    assert all(agents[a].timeout_s == 10 for a in support)
    assert agents["extract_document_entities"].timeout_s == 20, "a chunk is long to read"
    assert {c.credential for c in agents.values()} == set(agents)


def test_small_tier_route_falls_back_to_large_and_never_the_reverse() -> None:
    sim = load_registry(DEFAULT_MODELS_FILE).profiles["sim"]
    assert [e.name for e in sim.route("small")] == ["sim-small-a", "sim-small-b", "sim-large-a"]
    assert [e.name for e in sim.route("large")] == ["sim-large-a"]


def test_settings_from_env_defaults_to_the_sim_profile() -> None:
    settings = GatewaySettings.from_env({})
    assert settings.profile_name == "sim"
    assert settings.models_file == DEFAULT_MODELS_FILE
    assert settings.cache_path == Path("var/cache.db")
    assert settings.cache_enabled


def test_settings_fill_the_compatible_profile_from_env() -> None:
    settings = GatewaySettings.from_env(
        {
            "CONDUCTOR_MODEL_PROFILE": "compatible",
            "CONDUCTOR_COMPATIBLE_SMALL_MODEL": "llama3.1:8b",
            "CONDUCTOR_COMPATIBLE_LARGE_MODEL": "llama3.1:70b",
        }
    )
    endpoints = {e.name: e for e in settings.profile.endpoints}
    assert endpoints["compatible-small"].base_url == "http://127.0.0.1:8000/v1"
    assert endpoints["compatible-small"].model == "llama3.1:8b"
    assert endpoints["compatible-large"].model == "llama3.1:70b"
    other = GatewaySettings.from_env(
        {
            "CONDUCTOR_MODEL_PROFILE": "compatible",
            "CONDUCTOR_COMPATIBLE_BASE_URL": "http://127.0.0.1:11434/v1",
            "CONDUCTOR_COMPATIBLE_SMALL_MODEL": "a",
            "CONDUCTOR_COMPATIBLE_LARGE_MODEL": "b",
        }
    )
    assert {e.base_url for e in other.profile.endpoints} == {"http://127.0.0.1:11434/v1"}


def test_compatible_profile_without_its_models_names_the_variable() -> None:
    with pytest.raises(RegistryError) as info:
        GatewaySettings.from_env({"CONDUCTOR_MODEL_PROFILE": "compatible"})
    assert "profiles.compatible.endpoints[0].model" in str(info.value)
    assert "CONDUCTOR_COMPATIBLE_SMALL_MODEL" in str(info.value)


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(RegistryError, match=r"profiles\.nope: no such profile"):
        GatewaySettings.from_env({"CONDUCTOR_MODEL_PROFILE": "nope"})


def test_models_file_from_env(tmp_path: Path) -> None:
    path = _write(tmp_path, DEFAULT_MODELS_FILE.read_text().replace("0.15", "0.25"))
    settings = GatewaySettings.from_env({"CONDUCTOR_MODELS_FILE": str(path)})
    assert settings.models_file == path
    assert settings.profile.endpoint("sim-small-a").price_in_per_mtok == 0.25


def test_secret_values_stay_out_of_the_settings_repr() -> None:
    settings = GatewaySettings.from_env({"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(settings)
    assert "sk-very-secret" not in str(settings.model_dump())


def test_bad_tier_names_its_key_path() -> None:
    raw = _raw()
    raw["profiles"]["sim"]["endpoints"][1]["tier"] = "medium"
    with pytest.raises(RegistryError) as info:
        parse_registry(raw)
    assert "profiles.sim.endpoints[1].tier: input should be 'small' or 'large'" in str(info.value)


def test_missing_and_unknown_keys_are_named() -> None:
    raw = _raw()
    del raw["profiles"]["openai"]["endpoints"][0]["model"]
    raw["agents"]["draft_reply"]["temperature"] = 0.3
    with pytest.raises(RegistryError) as info:
        parse_registry(raw)
    message = str(info.value)
    assert "profiles.openai.endpoints[0].model: field required" in message
    assert "agents.draft_reply.temperature: extra inputs are not permitted" in message


def test_negative_price_is_named() -> None:
    raw = _raw()
    raw["profiles"]["sim"]["endpoints"][2]["price_out_per_mtok"] = -1
    with pytest.raises(RegistryError, match=r"profiles\.sim\.endpoints\[2\]\.price_out_per_mtok"):
        parse_registry(raw)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["profiles"]["sim"]["tiers"]["small"].update(
                fallback_order=["sim-small-a", "sim-small-c"]
            ),
            "profiles.sim.tiers.small.fallback_order[1]: unknown endpoint 'sim-small-c'",
        ),
        (
            lambda r: r["profiles"]["sim"]["tiers"]["small"].update(fallback_order=["sim-large-a"]),
            "profiles.sim.tiers.small.fallback_order[0]: endpoint 'sim-large-a' is of tier 'large'",
        ),
        (
            lambda r: r["profiles"]["sim"]["tiers"]["large"].update(fallback_tier="small"),
            "profiles.sim.tiers.large.fallback_tier: a tier may only fall back to a stronger tier",
        ),
        (
            lambda r: r["profiles"]["sim"]["endpoints"][1].update(name="sim-small-a"),
            "profiles.sim.endpoints[1].name: duplicate endpoint name 'sim-small-a'",
        ),
        (
            lambda r: r["agents"]["draft_reply"].update(timeout_s=10, budget_s=5),
            "agents.draft_reply.budget_s: must be at least timeout_s",
        ),
        (
            lambda r: r["profiles"]["sim"]["tiers"].pop("large"),
            "profiles.sim.tiers.small.fallback_tier: tier 'large' is not defined",
        ),
    ],
)
def test_cross_references_are_checked(mutate: Any, expected: str) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(RegistryError) as info:
        parse_registry(raw, source="models.toml")
    assert expected in str(info.value)
    assert str(info.value).startswith("models.toml: ")


def test_credential_reference_must_be_a_safe_name() -> None:
    raw = _raw()
    raw["agents"]["classify_intent"]["credential"] = "../etc/passwd"
    with pytest.raises(RegistryError, match=r"agents\.classify_intent\.credential"):
        parse_registry(raw)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not valid TOML"):
        load_registry(_write(tmp_path, "profiles = [\n"))
    with pytest.raises(RegistryError, match="cannot read the model registry"):
        load_registry(tmp_path / "absent.toml")


def test_registry_models_are_frozen() -> None:
    registry: RegistryFile = load_registry(DEFAULT_MODELS_FILE)
    endpoint = registry.profiles["sim"].endpoints[0]
    with pytest.raises(ValueError, match="frozen"):
        endpoint.tier = "large"  # type: ignore[misc]


def test_overrides() -> None:
    settings = GatewaySettings.from_env({})
    assert not settings.with_overrides(cache_enabled=False).cache_enabled
    with pytest.raises(TypeError, match="unknown gateway setting"):
        settings.with_overrides(nope=1)
    faster = settings.with_agent("classify_intent", timeout_s=0.5)
    assert faster.agents["classify_intent"].timeout_s == 0.5
    assert faster.agents["classify_intent"].total_budget_s == 1.5
    assert settings.agents["classify_intent"].timeout_s == 10
    assert settings.with_retry(max_attempts=5).profile.retry.max_attempts == 5
