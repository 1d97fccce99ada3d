"""OCI images for the node: build them offline, read archives, hold them in a local registry.

Theory of operation: nothing on the internet is reachable from these machines, so every image a
pod uses must come from a file. `build` makes the two images pocketkube needs (busybox from
Debian's busybox-static, and the pause image) as OCI archives in pure Python (`layout`);
`archive` reads any OCI or `docker save` archive into blobs plus named manifests; `store` is a
content-addressed folder (blobs by digest, tags per registry host and repository) that `registry`
serves over the OCI distribution API, so containerd pulls from it as the mirror of docker.io and
every other registry (imagePullPolicy Always works offline); `containerd_import` writes the same
blobs straight into containerd over its content/images/leases gRPC API; `loader` ties an archive to
both destinations (what `pocketkube image load` runs).

This package is named `oci` rather than `images` because `pocketkube/kubelet/images.py` (image
reference normalisation, owned by the node-agent work) already takes that import name.
"""
