"""The guarded model gateway: registry, breakers, limits, timeouts, fallbacks, cache, secrets."""
