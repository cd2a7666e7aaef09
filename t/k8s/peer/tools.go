//go:build tools

// The test bed's kube-apiserver and kubectl, pinned by this module:
// t/k8s/testbed.sh builds them from k8s.io/kubernetes/cmd/.  This file
// only records the requirement; nothing here is product code.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
