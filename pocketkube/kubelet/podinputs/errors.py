"""The errors pod inputs raise to the pod workers (pure).

Theory of operation: upstream's GenerateRunContainerOptions fails a container start with an error
whose text becomes the CreateContainerConfigError message (`configmap "x" not found`, `couldn't
find key y in ConfigMap ns/x`, `failed to prepare subPath for volumeMount "v" of container "c"`).
`ContainerConfigError` carries exactly that text: `str(err)` is what the worker shows.
`VolumeSetupError` lists, per volume, the FailedMount text (`MountVolume.SetUp failed for volume
"cfg" : configmap "cfg" not found`); the pod stays in ContainerCreating while it is raised.
"""

from __future__ import annotations

from collections.abc import Mapping


class ContainerConfigError(Exception):
    """The container cannot be configured; the message is upstream's (CreateContainerConfigError)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VolumeSetupError(Exception):
    """Some volumes of a pod could not be set up; `failures` maps volume name -> upstream error text."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        super().__init__("; ".join(failed_mount_message(n, m) for n, m in self.failures.items()))

    @property
    def unmounted(self) -> list[str]:
        return sorted(self.failures)


def failed_mount_message(volume: str, error: str) -> str:
    """The FailedMount event text of one volume (operation_generator's MountVolume.SetUp failure)."""
    return f'MountVolume.SetUp failed for volume "{volume}" : {error}'


def aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several as "[a, b]" (duplicates once)."""
    seen: list[str] = []
    for e in errors:
        if e not in seen:
            seen.append(e)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"
