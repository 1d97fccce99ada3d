"""kubectl's everyday commands against the real apiserver (issue 2 acceptance)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from cluster import KUBECTL, Cluster


def test_create_typed_commands(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    assert k("create", "configmap", "cm1", "--from-literal=a=1", "--from-literal=b=2", "-n", ns).out.strip() == \
        "configmap/cm1 created"
    assert k("create", "secret", "generic", "s1", "--from-literal=p=x", "-n", ns).out.strip() == "secret/s1 created"
    assert k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "-n", ns).out.strip() == \
        "deployment.apps/web created"
    assert k("create", "service", "clusterip", "svc1", "--tcp=80:8080", "-n", ns).out.strip() == \
        "service/svc1 created"
    assert k("create", "job", "j1", "--image=busybox", "-n", ns).out.strip() == "job.batch/j1 created"
    cms = k("get", "cm", "-n", ns).out
    assert cms.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert any(line.split()[:2] == ["cm1", "2"] for line in cms.splitlines())
    secret = json.loads(k("get", "secret", "s1", "-n", ns, "-o", "json").out)
    assert secret["type"] == "Opaque" and secret["data"] == {"p": "eA=="}
    dep = json.loads(k("get", "deploy", "web", "-n", ns, "-o", "json").out)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["name"] == "nginx"
    svc = json.loads(k("get", "svc", "svc1", "-n", ns, "-o", "json").out)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080 and svc["spec"]["clusterIP"].startswith("10.")
    dup = k("create", "configmap", "cm1", "-n", ns, check=False)
    assert dup.returncode == 1
    assert 'configmaps "cm1" already exists' in dup.stderr


def test_label_annotate_patch_replace_scale_set_image(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    k("create", "configmap", "cm", "--from-literal=a=1", "-n", ns)
    assert k("label", "cm", "cm", "tier=fe", "-n", ns).out.strip() == "configmap/cm labeled"
    assert k("annotate", "cm", "cm", "note=hi", "-n", ns).out.strip() == "configmap/cm annotated"
    shown = k("get", "cm", "cm", "-n", ns, "--show-labels").out
    assert "tier=fe" in shown
    assert k("patch", "cm", "cm", "-n", ns, "-p", '{"data":{"b":"2"}}').out.strip() == "configmap/cm patched"
    assert k("patch", "cm", "cm", "-n", ns, "-p", '{"data":{"b":"2"}}').out.strip() == \
        "configmap/cm patched (no change)"
    k("patch", "cm", "cm", "-n", ns, "--type=merge", "-p", '{"data":{"c":"3"}}')
    k("patch", "cm", "cm", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/data/a"}]')
    data = json.loads(k("get", "cm", "cm", "-n", ns, "-o", "jsonpath={.data}").out)
    assert data == {"b": "2", "c": "3"}
    assert k("label", "cm", "cm", "tier-", "-n", ns).out.strip() == "configmap/cm unlabeled"

    obj = json.loads(k("get", "cm", "cm", "-n", ns, "-o", "json").out)
    obj["data"]["d"] = "4"
    assert k("replace", "-f", "-", input=json.dumps(obj)).out.strip() == "configmap/cm replaced"
    stale = k("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert stale.returncode == 1 and "Conflict" in stale.stderr and "the object has been modified" in stale.stderr

    k("create", "deployment", "web", "--image=nginx:1.25", "-n", ns)
    assert k("scale", "deploy", "web", "--replicas=5", "-n", ns).out.strip() == "deployment.apps/web scaled"
    assert k("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").out == "5"
    assert k("set", "image", "deploy/web", "nginx=nginx:1.27", "-n", ns).out.strip() == \
        "deployment.apps/web image updated"
    cols = k("get", "deploy", "web", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,IMAGE:"
             ".spec.template.spec.containers[0].image,GEN:.metadata.generation").out.split()
    assert cols == ["NAME", "IMAGE", "GEN", "web", "nginx:1.27", "3"]
    assert k("get", "deploy", "web", "-n", ns, "-o", "name").out.strip() == "deployment.apps/web"


def test_edit_with_editor_script(cluster: Cluster, ns: str, tmp_path: object) -> None:
    k = cluster.kubectl
    k("create", "configmap", "ed", "--from-literal=a=1", "-n", ns)
    script = os.path.join(str(tmp_path), "editor.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nsed -i 's/a: \"1\"/a: \"edited\"/' \"$1\"\n")
    os.chmod(script, 0o755)
    out = k("edit", "cm", "ed", "-n", ns, env={"EDITOR": script, "KUBE_EDITOR": script}).out
    assert out.strip() == "configmap/ed edited"
    assert k("get", "cm", "ed", "-n", ns, "-o", "jsonpath={.data.a}").out == "edited"


def test_output_formats_and_discovery(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    k("create", "configmap", "fmt", "--from-literal=x=y", "-n", ns)
    yaml_out = k("get", "cm", "fmt", "-n", ns, "-o", "yaml").out
    assert "apiVersion: v1" in yaml_out and "kind: ConfigMap" in yaml_out and "managedFields" not in yaml_out
    assert "managedFields" in k("get", "cm", "fmt", "-n", ns, "-o", "yaml", "--show-managed-fields").out
    resources = k("api-resources").out
    assert resources.splitlines()[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert any(line.split()[:2] == ["deployments", "deploy"] for line in resources.splitlines())
    versions = k("api-versions").out.split()
    for gv in ("v1", "apps/v1", "batch/v1", "autoscaling/v2", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"):
        assert gv in versions
    explain = k("explain", "deployment.spec.strategy").out
    assert "FIELD: strategy <DeploymentStrategy>" in explain and "rollingUpdate" in explain
    who = k("auth", "whoami").out
    assert "kubernetes-admin" in who and "system:masters" in who


def test_get_watch_sees_later_changes(cluster: Cluster, ns: str) -> None:
    proc = subprocess.Popen([KUBECTL, "get", "cm", "-n", ns, "-w"], env=cluster.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        cluster.kubectl("create", "configmap", "watched", "--from-literal=a=1", "-n", ns)
        cluster.kubectl("label", "cm", "watched", "x=y", "-n", ns)
        time.sleep(1.0)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [line for line in out.splitlines() if line.strip()]
    watched = [line for line in lines if line.startswith("watched")]
    assert len(watched) >= 2, out


def test_delete_wait_all_and_dry_run(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    for i in range(3):
        k("create", "configmap", f"d{i}", "--from-literal=a=1", "-n", ns)
    dry = k("delete", "cm", "d0", "-n", ns, "--dry-run=server").out.strip()
    assert dry == 'configmap "d0" deleted (server dry run)'
    assert k("get", "cm", "d0", "-n", ns, "-o", "name").out.strip() == "configmap/d0"
    assert k("delete", "cm", "d0", "-n", ns, "--wait").out.strip() == 'configmap "d0" deleted'
    out = k("delete", "cm", "--all", "-n", ns).out
    assert 'configmap "d1" deleted' in out and 'configmap "d2" deleted' in out
    created = k("create", "configmap", "dry", "--from-literal=a=1", "-n", ns, "--dry-run=server").out.strip()
    assert created == "configmap/dry created (server dry run)"
    assert k("get", "cm", "dry", "-n", ns, check=False).returncode == 1


def test_server_side_apply(cluster: Cluster, ns: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns},
                "data": {"a": "1"}}
    k = cluster.kubectl
    assert k("apply", "--server-side", "-f", "-", input=json.dumps(manifest)).out.strip() == \
        "configmap/ssa serverside-applied"
    k("patch", "cm", "ssa", "-n", ns, "--type=merge", "-p", '{"data":{"a":"2"}}')
    conflict = k("apply", "--server-side", "-f", "-", input=json.dumps(manifest), check=False)
    assert conflict.returncode == 1 and "conflict" in conflict.stderr.lower()
    forced = k("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(manifest))
    assert forced.out.strip() == "configmap/ssa serverside-applied"
    obj = json.loads(k("get", "cm", "ssa", "-n", ns, "-o", "json", "--show-managed-fields").out)
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert obj["data"] == {"a": "1"}


@pytest.mark.parametrize("kind", ["configmap", "namespace"])
def test_dry_run_server_create_from_file(cluster: Cluster, ns: str, kind: str) -> None:
    name = f"dry-{kind}"
    obj = {"apiVersion": "v1", "kind": "ConfigMap" if kind == "configmap" else "Namespace",
           "metadata": {"name": name}}
    if kind == "configmap":
        obj["metadata"]["namespace"] = ns
    out = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(obj)).out.strip()
    assert out.endswith("created (server dry run)")
    assert cluster.kubectl("get", kind, name, "-n", ns, check=False).returncode == 1
