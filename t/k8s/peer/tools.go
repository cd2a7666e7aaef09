//go:build tools

// The test bed's peers, pinned by this module: kube-apiserver from
// k8s.io/kubernetes, built with `go build k8s.io/kubernetes/cmd/kube-apiserver`,
// and etcd (./etcd).  This file only records the requirement; nothing here
// is product code.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
