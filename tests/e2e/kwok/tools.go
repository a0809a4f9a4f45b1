//go:build tools

// Package tools records the main package scripts/e2e-cluster.sh builds, so that
// `go mod tidy` keeps its dependencies in go.sum.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
