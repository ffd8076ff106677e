"""Conductor validators package."""
