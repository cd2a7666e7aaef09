//go:build tools

// The test bed's kube-apiserver, pinned by this module: t/k8s/testbed.sh
// builds it with `go build k8s.io/kubernetes/cmd/kube-apiserver`.  This
// file only records the requirement; nothing here is product code.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
