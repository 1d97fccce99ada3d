"""The Deployment controller (upstream pkg/controller/deployment), one module per concern.

controller.py wires informers and dispatches; sync.py holds the writes
(new ReplicaSet and revisions, scaling, cleanup, status); rolling.py and
recreate.py are the two strategies; rollback.py the annotation-driven
rollback; progress.py computes status and conditions; util.py the pure
helpers (hash naming, fenceposts, revisions, annotations).
"""
