// Package k8scheck checks the Kubernetes manifests shown in docs/*.md against the real API
// types (k8s.io/api batch/v1), decoded strictly: a misspelled or misplaced field fails, as
// `kubectl apply --validate=strict` would. It is its own module so that the product's
// go.mod does not carry the Kubernetes libraries; `make test` runs it.
package k8scheck
