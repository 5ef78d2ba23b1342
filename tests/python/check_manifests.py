"""Validates deploy/kubernetes against the Kubernetes API schemas offline (kubernetes-validate,
strict: unknown fields are errors) and checks what the schemas cannot: probes on /healthz at
the container's port, the Service selecting the pods, the HPA scaling this Deployment, a
non-root user; and that compose.yaml's Prometheus scrapes the verifier's /metrics.

Usage: python check_manifests.py REPO_ROOT KUBERNETES_VERSION
"""

import pathlib
import sys

import kubernetes_validate
import yaml

root = pathlib.Path(sys.argv[1])
version = sys.argv[2]
manifests = {}
for name in ["deployment.yaml", "service.yaml", "hpa.yaml"]:
    path = root / "deploy" / "kubernetes" / name
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, version, strict=True)
        manifests[document["kind"]] = document
        print(f"{name}: {document['kind']} valid for Kubernetes {version} (strict)")

kustomization = yaml.safe_load((root / "deploy/kubernetes/kustomization.yaml").read_text())
assert sorted(kustomization["resources"]) == ["deployment.yaml", "hpa.yaml", "service.yaml"]

deployment = manifests["Deployment"]
pod = deployment["spec"]["template"]
container = pod["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
for probe in ["readinessProbe", "livenessProbe"]:
    get = container[probe]["httpGet"]
    assert get["path"] == "/healthz", (probe, get)
    assert get["port"] in ports or get["port"] in ports.values(), (probe, get)
assert "--addr" in container["args"] and "0.0.0.0:8080" in container["args"], container["args"]
assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
assert pod["spec"]["securityContext"]["runAsUser"] != 0
assert pod["spec"]["terminationGracePeriodSeconds"] > 30, "must exceed --drain-timeout-s"

service = manifests["Service"]
labels = pod["metadata"]["labels"]
assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items()), "selector"
assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
assert service["spec"]["ports"][0]["targetPort"] in ports

hpa = manifests["HorizontalPodAutoscaler"]
target = hpa["spec"]["scaleTargetRef"]
assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
assert hpa["spec"]["minReplicas"] >= 2, "fail-over needs two replicas"
print("probes, selector, autoscaler target and security context: consistent")

compose = yaml.safe_load((root / "compose.yaml").read_text())
services = compose["services"]
assert services["verifier"]["build"] == "."
prometheus = yaml.safe_load((root / "deploy/prometheus/prometheus.yml").read_text())
jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
job = jobs["verifier"]
assert job["metrics_path"] == "/metrics"
assert job["static_configs"][0]["targets"] == ["verifier:8080"]
mounted = " ".join(services["prometheus"]["volumes"])
assert "deploy/prometheus/prometheus.yml" in mounted
print("compose: the verifier built from the Dockerfile, Prometheus scraping verifier:8080/metrics")
