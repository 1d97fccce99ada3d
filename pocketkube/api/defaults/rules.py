"""Imports every defaulting module (each registers itself with `defaults_for`)."""
