"""Hypothesis settings of the property tests: no example database on disk, no deadline."""

from hypothesis import settings

settings.register_profile("conductor", database=None, deadline=None, print_blob=True)
settings.load_profile("conductor")
