"""Conductor graphs package."""
