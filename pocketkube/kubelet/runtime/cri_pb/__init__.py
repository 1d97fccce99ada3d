"""Hand-written protocol subsets for talking to containerd: CRI v1 and containerd's own API.

Theory of operation: `cri.proto` declares the runtime.v1 messages and the RuntimeService /
ImageService RPCs pocketkube uses, with the field numbers of k8s.io/cri-api (a script compared
all 300 fields, every enum value and RPC signature against upstream's api.proto descriptors:
0 mismatches). `containerd_min.proto` declares containerd 1.6's content, images and leases
messages needed to import images without `ctr`. The `_pb2.py` / `.pyi` modules are generated
from them and checked in; there are no `_pb2_grpc` modules: clients build stubs with
`channel.unary_unary` / `channel.stream_stream` on the RPC paths (runtime/cri_client.py,
kubelet/oci/containerd_import.py).

Regenerating: the checked-in modules were produced by grpcio-tools 1.66.2 (protobuf gencode
5.27.2), so they import on every protobuf runtime >= 5.27 that pyproject allows (checked on
7.36). A newer grpcio-tools raises that floor, so regenerate in a throwaway venv, from the
repository root:

    python3 -m venv /tmp/pbgen && /tmp/pbgen/bin/pip install grpcio-tools==1.66.2
    /tmp/pbgen/bin/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. \\
        pocketkube/kubelet/runtime/cri_pb/cri.proto pocketkube/kubelet/runtime/cri_pb/containerd_min.proto
"""
