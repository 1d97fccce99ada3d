"""The generic garbage collector (kube-controller-manager garbagecollector): graph, workers, discovery."""
