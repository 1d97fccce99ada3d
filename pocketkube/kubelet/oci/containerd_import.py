"""Importing images into containerd through its own gRPC API (content, images, leases): no `ctr`.

Theory of operation (verified on containerd 1.6.20, which has no server-side import RPC): every
call carries `containerd-namespace: k8s.io`, the namespace CRI reads. An import takes a lease
(with a gc.expire label, so an abandoned import is collected later) and, under it, writes each
missing blob with one Content/Write stream (WRITE chunks, then COMMIT with the expected digest;
blobs already present, per Content/Info, are skipped). The manifest is committed last with the
`containerd.io/gc.ref.content.*` labels that make its config and layers reachable for the garbage
collector. Then Images/Create names it (Images/Update when the name exists, which re-points a
tag), and the lease is deleted. CRI notices the new image at once through containerd's events;
the snapshot is unpacked lazily by the first CreateContainer that uses it (~100 ms).
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

import grpc

from pocketkube.kubelet.containerd_config import K8S_NAMESPACE
from pocketkube.kubelet.runtime.cri_pb import containerd_min_pb2 as cpb

CONTENT = "containerd.services.content.v1.Content"
IMAGES = "containerd.services.images.v1.Images"
LEASES = "containerd.services.leases.v1.Leases"
CHUNK = 1 << 20
LEASE_TTL = datetime.timedelta(hours=1)


class ContainerdAPIError(Exception):
    """A containerd API call failed; `code` is the gRPC status code name."""

    def __init__(self, rpc: str, code: str, details: str) -> None:
        super().__init__(f"{rpc}: {code}: {details}")
        self.rpc, self.code = rpc, code


def gc_labels(manifest: bytes) -> dict[str, str]:
    doc = json.loads(manifest)
    labels = {"containerd.io/gc.ref.content.config": doc["config"]["digest"]}
    for i, layer in enumerate(doc.get("layers") or []):
        labels[f"containerd.io/gc.ref.content.l.{i}"] = layer["digest"]
    return labels


class ContainerdImages:
    """Content/images/leases calls on one containerd socket, in one namespace."""

    def __init__(self, endpoint: str, namespace: str = K8S_NAMESPACE, timeout: float = 60.0) -> None:
        self.endpoint = endpoint if "://" in endpoint else f"unix://{endpoint}"
        self.namespace, self.timeout = namespace, timeout
        self._channel = grpc.aio.insecure_channel(self.endpoint)

    async def close(self) -> None:
        await self._channel.close()

    def _md(self, lease: str = "") -> tuple[tuple[str, str], ...]:
        md = (("containerd-namespace", self.namespace),)
        return (*md, ("containerd-lease", lease)) if lease else md

    async def _unary(self, service: str, method: str, request: Any, reply: Any, lease: str = "") -> Any:
        stub = self._channel.unary_unary(f"/{service}/{method}", request_serializer=type(request).SerializeToString,
                                         response_deserializer=reply.FromString)
        try:
            return await stub(request, metadata=self._md(lease), timeout=self.timeout)
        except grpc.aio.AioRpcError as e:
            raise ContainerdAPIError(f"{service}/{method}", e.code().name, e.details() or "") from None

    async def _found(self, service: str, method: str, request: Any, reply: Any) -> bool:
        """The call succeeded: True; containerd answered NOT_FOUND: False; other errors raise."""
        try:
            await self._unary(service, method, request, reply)
        except ContainerdAPIError as e:
            if e.code == "NOT_FOUND":
                return False
            raise
        return True

    async def has_blob(self, digest: str) -> bool:
        return await self._found(CONTENT, "Info", cpb.ContentInfoRequest(digest=digest), cpb.ContentInfoResponse)

    async def write_blob(self, digest: str, size: int, stream: IO[bytes], lease: str,
                         labels: dict[str, str] | None = None, progress: Callable[[int], None] | None = None) -> None:
        """Stream one blob into the content store (committed only if it matches `digest`)."""
        ref = f"pocketkube-import-{digest}-{uuid.uuid4().hex[:8]}"

        async def requests() -> AsyncIterator[cpb.WriteContentRequest]:
            offset = 0
            while chunk := stream.read(CHUNK):
                yield cpb.WriteContentRequest(action=cpb.WRITE, ref=ref, total=size, expected=digest,
                                              offset=offset, data=chunk)
                offset += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            yield cpb.WriteContentRequest(action=cpb.COMMIT, ref=ref, total=size, expected=digest,
                                          offset=offset, labels=labels or {})

        stub = self._channel.stream_stream(f"/{CONTENT}/Write",
                                           request_serializer=cpb.WriteContentRequest.SerializeToString,
                                           response_deserializer=cpb.WriteContentResponse.FromString)
        try:
            async for _ in stub(requests(), metadata=self._md(lease), timeout=self.timeout):
                pass
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise ContainerdAPIError(f"{CONTENT}/Write {digest}", e.code().name, e.details() or "") from None

    async def create_lease(self) -> str:
        expire = (datetime.datetime.now(datetime.UTC) + LEASE_TTL).strftime("%Y-%m-%dT%H:%M:%SZ")
        lease_id = f"pocketkube-import-{uuid.uuid4().hex[:12]}"
        req = cpb.CreateLeaseRequest(id=lease_id, labels={"containerd.io/gc.expire": expire})
        await self._unary(LEASES, "Create", req, cpb.CreateLeaseResponse)
        return lease_id

    async def delete_lease(self, lease_id: str) -> None:
        await self._unary(LEASES, "Delete", cpb.DeleteLeaseRequest(id=lease_id), cpb.Empty)

    async def set_image(self, name: str, media_type: str, digest: str, size: int) -> None:
        """Create image `name` -> manifest, or re-point it if it exists."""
        image = cpb.Image(name=name, target=cpb.Descriptor(media_type=media_type, digest=digest, size=size))
        try:
            await self._unary(IMAGES, "Create", cpb.CreateImageRequest(image=image), cpb.CreateImageResponse)
        except ContainerdAPIError as e:
            if e.code != "ALREADY_EXISTS":
                raise
            await self._unary(IMAGES, "Update", cpb.UpdateImageRequest(image=image), cpb.UpdateImageResponse)

    async def list_images(self) -> list[tuple[str, str]]:
        """(name, target digest) of every image in the namespace."""
        r = await self._unary(IMAGES, "List", cpb.ListImagesRequest(), cpb.ListImagesResponse)
        return [(i.name, i.target.digest) for i in r.images]

    async def delete_image(self, name: str) -> bool:
        return await self._found(IMAGES, "Delete", cpb.DeleteImageRequest(name=name), cpb.Empty)
