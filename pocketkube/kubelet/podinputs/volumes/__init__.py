"""Pod volumes on the node: the manager (manager.py), the in-tree kinds it supports (emptydir,
hostpath, configmap, secret, downwardapi, projected), the AtomicWriter they write with, the
TokenRequest token manager, safe subPath binds, tmpfs/bind mounts and fsGroup ownership."""
