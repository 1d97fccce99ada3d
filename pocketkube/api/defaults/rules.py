"""Imports every defaulting module (each registers itself with `defaults_for`)."""

from pocketkube.api.defaults import (  # noqa: F401
    apiextensions_v1,
    apps_v1,
    autoscaling_v1,
    autoscaling_v2,
    batch_v1,
    core_v1,
    discovery_v1,
    networking_v1,
    rbac_v1,
    scheduling_v1,
    storage_v1,
)
