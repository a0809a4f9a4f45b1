"""The chart and the plain manifests, as the real apiserver accepts (or refuses) them."""

import os
import pathlib
import subprocess

import pytest

from conftest import NAMESPACE, ROOT, TOOLS, Kubectl

CHART = ROOT / "manifests" / "helm" / "ballast"
MODES = {
    "default": [],
    "selfsigned": ["-f", str(CHART / "ci" / "selfsigned-values.yaml")],
    "nodepool": ["-f", str(CHART / "ci" / "nodepool-values.yaml")],
    "external-url": ["--set", "admission.external.url=https://127.0.0.1:1",
                     "--set", "admission.external.caBundle=" + "Y2E=" ],
}


def render(release, namespace, args, tmp_path):
    env = {**os.environ, "HELM_CACHE_HOME": str(tmp_path), "HELM_CONFIG_HOME": str(tmp_path),
           "HELM_DATA_HOME": str(tmp_path)}
    proc = subprocess.run([str(TOOLS / "helm"), "template", release, str(CHART), "-n", namespace, *args],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# Kinds of prerequisites the README names (cert-manager, the Prometheus Operator) that this
# cluster does not have: their objects are left out, everything else must be accepted (the
# PrometheusRule's rules are checked by promtool in test_nodegroup.py).
ABSENT_KINDS = ("kind: Certificate", "kind: Issuer", "kind: ServiceMonitor", "kind: PrometheusRule")


def without_absent_kinds(manifest):
    return "\n---\n".join(d for d in manifest.split("\n---\n") if not any(k in d for k in ABSENT_KINDS))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_rendered_object_is_accepted_by_server_side_apply(cluster, installed, ballast, mode, tmp_path):
    # Its own release and namespace: applied over the installed release, a webhook's
    # clientConfig would merge the installed url with this mode's service.
    release = f"e2e-{mode}"
    for namespace in (release, "monitoring"):  # monitoring: where the ci values put dashboards
        cluster.admin.run("create", "namespace", namespace, check=False)
    # A release's namespace is never sent to its own webhook (the chart excludes it); the
    # installed ballast's webhook is told so by the opt-out label.
    cluster.admin.run("label", "namespace", release, "ballast.dev/admission=disabled", "--overwrite")
    # Objects that name no namespace go to the release's, as `helm install -n` puts them:
    # the current context's namespace of a copy of the admin kubeconfig.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(pathlib.Path(cluster.admin.kubeconfig).read_text())
    in_release = Kubectl(kubeconfig)
    in_release.run("config", "set-context", "--current", f"--namespace={release}")
    manifest = without_absent_kinds(render(release, release, MODES[mode], tmp_path))
    proc = in_release.run("apply", "--server-side", "--dry-run=server", "--force-conflicts",
                          "--field-manager", release, "-f", "-", stdin=manifest, check=False)
    assert proc.returncode == 0, proc.stderr


def test_the_installed_release_is_deployed(cluster, installed):
    proc = subprocess.run([str(TOOLS / "helm"), "status", "ballast", "-n", NAMESPACE, "--kubeconfig",
                           cluster.admin.kubeconfig, "-o", "json"], capture_output=True, text=True,
                          env={**os.environ, "HELM_CACHE_HOME": str(installed["work"] / "helm"),
                               "HELM_CONFIG_HOME": str(installed["work"] / "helm"),
                               "HELM_DATA_HOME": str(installed["work"] / "helm")})
    assert proc.returncode == 0 and '"status":"deployed"' in proc.stdout.replace(" ", ""), proc.stderr


def test_the_example_nodegroups_pass_the_crds_schema(cluster, installed):
    proc = cluster.admin.run("apply", "--dry-run=server", "-f", str(ROOT / "examples" / "nodegroups.yaml"), check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_nodegroup_the_schema_forbids_is_refused_with_its_message(cluster, installed):
    bad = {"apiVersion": "ballast.dev/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "upside-down"},
           "spec": {"minNodes": 3, "maxNodes": 1, "provider": {"type": "dispatch", "dispatch": {"url": "https://x"}},
                    "offerings": [{"id": "a", "cpu": "1", "memory": "1Gi"}]}}
    proc = cluster.admin.apply(bad, "--dry-run=server", check=False)
    assert proc.returncode != 0 and "minNodes must not exceed maxNodes" in proc.stderr, proc.stderr


def test_the_kustomize_base_is_accepted(cluster, installed, ballast, tmp_path):
    built = without_absent_kinds(cluster.admin.run("kustomize", str(ROOT / "manifests")).stdout)
    documents = built.split("\n---\n")
    # The webhook configurations are cluster-wide and share the release's names: renamed,
    # so they are validated on their own instead of merged into the installed ones.
    documents = [d.replace("\n  name: ballast\n", "\n  name: e2e-kustomize\n") if "WebhookConfiguration" in d else d
                 for d in documents]
    proc = cluster.admin.run("apply", "--server-side", "--dry-run=server", "--force-conflicts", "--field-manager", "e2e-kustomize",
                             "-f", "-", stdin="\n---\n".join(documents), check=False)
    assert proc.returncode == 0, proc.stderr
