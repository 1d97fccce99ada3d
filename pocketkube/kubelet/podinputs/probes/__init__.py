"""Container probes: the vocabulary and timing (spec.py), the pure per-probe state machine
(worker.py), the handlers (http.py, tcp.py, exec.py, grpc.py), one judged probe round with
upstream's retries and events (prober.py), and the manager that schedules them (manager.py)."""
