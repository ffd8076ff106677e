"""Conductor state package."""
