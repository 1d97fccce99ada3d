"""Runtime errors as the kubelet words them in events and statuses (pure).

Theory of operation: the kubelet prints an image pull failure with %v of the gRPC error, which Go
renders as `rpc error: code = NotFound desc = <message>` (`error_text`); create and start
failures show only the status message (`error_message`: `Error: <message>` in the Failed event,
the waiting message of CreateContainerError). Errors that are not CRI errors print as themselves.
"""

from __future__ import annotations

from pocketkube.kubelet.runtime.cri_types import CRIError


def error_text(e: Exception) -> str:
    """An error as the kubelet prints it with %v (gRPC's Go format for CRI errors: image pulls)."""
    if isinstance(e, CRIError):
        code = "".join(w.capitalize() for w in e.code.split("_")) if e.code != "OK" else "OK"
        return f"rpc error: code = {code} desc = {e.details}"
    return str(e)


def error_message(e: Exception) -> str:
    """The gRPC status message of an error (what the kubelet shows for create/start failures)."""
    return e.details if isinstance(e, CRIError) else str(e)
