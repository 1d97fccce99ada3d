"""The node agent: simulated nodes now, the containerd-backed kubelet later (see agent.py)."""
