"""Hand-written minimal etcd v3 protocol subset (messages + service paths) for the etcd store.

Theory of operation: `etcd_min.proto` declares only the etcdserverpb/mvccpb messages the
storage seam uses, with etcd's field numbers. `etcd_min_pb2.py` is generated from it and
checked in; there is no `_pb2_grpc` module: pocketkube.storage.etcd builds its stubs with
`channel.unary_unary` / `channel.stream_stream` on the service paths (/etcdserverpb.KV/Range...).

Regenerating: the checked-in module was produced by grpcio-tools 1.66.2 (protobuf gencode 5.27.2),
so it imports on every protobuf runtime >= 5.27 that pyproject allows. Generating with a newer
grpcio-tools raises that floor (1.85 gencode needs protobuf >= 7.35), so regenerate in a
throwaway venv, from the repository root:

    python3 -m venv /tmp/pbgen && /tmp/pbgen/bin/pip install grpcio-tools==1.66.2
    /tmp/pbgen/bin/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. \\
        pocketkube/storage/etcdpb/etcd_min.proto
"""
