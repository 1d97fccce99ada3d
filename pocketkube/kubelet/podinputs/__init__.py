"""What a pod's containers are given besides their image: environment, volumes and probes.

Theory of operation: the pod workers (kubelet/podworkers.py with the CRI runtime) call these
modules while they create and watch containers, as upstream's kubelet calls makeEnvironmentVariables,
the volume manager and the prober manager:
- `env.resolve_env` (+ `expansion.expand_command_and_args`): the container's environment and its
  $(VAR)-expanded command and args; a missing ConfigMap/Secret/key is a `ContainerConfigError`
  (the worker shows CreateContainerConfigError);
- `volumes.manager.VolumeManager`: volumes set up on disk under the kubelet folder
  (pods/<uid>/volumes/<plugin>/<name>), the CRI mounts of each container, periodic resync of
  ConfigMap/Secret/token contents, teardown;
- `probes.manager.ProbeManager`: liveness/readiness/startup workers whose results go to a callback.
The pure parts (expansion, fieldpath, resources, env, probes.spec, probes.worker, and the volume
payload builders) take data and return data; the rest does the I/O.
"""
