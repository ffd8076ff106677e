"""Conductor conductor_cli package."""
