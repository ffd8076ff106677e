"""Conductor nodes package."""
