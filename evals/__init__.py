"""Conductor evals package."""
