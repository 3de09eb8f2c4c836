"""Helpers shared by the tests: where the project and the reference data are, and how to run ``anime``."""
