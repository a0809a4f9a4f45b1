// Test-only: pins the VerticalPodAutoscaler module whose CRD (deploy/vpa-v1-crd-gen.yaml)
// tests/e2e installs into the real apiserver; VPA itself never runs. See crds.sh.
module ballast.test/e2e/vpa

go 1.26.0

require k8s.io/autoscaler/vertical-pod-autoscaler v1.8.1
