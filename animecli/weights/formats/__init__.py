"""Readers for the weight formats animecli accepts, each giving ``{name: numpy array}``."""
