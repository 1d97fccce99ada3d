"""The scheduler: kube-scheduler v1.32's framework, queue, cache and default plugins, in asyncio.

Map of the package (each module's docstring has its theory of operation):

- framework.py   extension points, Status codes, CycleState, FitError messages, cluster events
- config.py      profiles as data (default plugin set and weights; KubeSchedulerConfiguration subset)
- runtime.py     runs one profile's plugins at each extension point (also the plugins' Handle)
- algorithm.py   one cycle's placement: PreFilter, filtering with percentageOfNodesToScore, scoring
- queue.py       activeQ / backoffQ / unschedulable pods, queueing hints, in-flight events
- nominator.py   pods nominated by preemption
- cache.py       NodeInfos, assumed pods, incremental snapshots (snapshot.py)
- podinfo.py, nodeinfo.py, resources.py, labelsel.py   parsed pods/nodes, resource arithmetic, selectors
- scheduler.py   the loop: scheduling cycle, binding cycle, failure reporting (event + PodScheduled)
- eventhandlers.py  informer events -> cache and queue
- handle.py, api.py  what plugins may reach (listers, SchedulerAPI) and its REST implementation
- app.py         wiring over the REST client; metrics.py Prometheus metrics; bench.py throughput
- plugins/       one module (or package) per plugin, each with a pure core
- testing.py     object builders for tests and benchmarks

The process entry point is pocketkube/cmd/scheduler.py.
"""
