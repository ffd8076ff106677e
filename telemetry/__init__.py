"""Conductor telemetry package."""
