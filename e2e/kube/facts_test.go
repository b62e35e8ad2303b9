package kube_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// TestClusterFacts pins down what a cluster of only etcd and kube-apiserver
// does and does not do, which tests built on the harness (and README.md)
// rely on. A new Kubernetes release that changes one fails here first.
func TestClusterFacts(t *testing.T) {
	env := kube.Start(t, kube.Options{})
	c := env.Clusters[0]
	cs := c.AdminClient
	ctx := context.Background()

	for _, n := range []string{"default", "kube-system", "kube-public"} {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", n, err)
		}
	}
	// The kubernetes Service takes the range's first address; with the
	// endpoint reconciler off, nothing makes EndpointSlices.
	if svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err != nil {
		t.Errorf("service default/kubernetes: %v", err)
	} else if svc.Spec.ClusterIP != "10.96.0.1" {
		t.Errorf("service default/kubernetes has ClusterIP %s, want 10.96.0.1 (first of %s)", svc.Spec.ClusterIP, c.ServiceCIDR)
	}
	if es, err := cs.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil || len(es.Items) != 0 {
		t.Errorf("endpointslices nobody made: %d, %v", len(es.Items), err)
	}

	// The serving certificate file holds the leaf for 127.0.0.1, then its CA.
	data, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	if len(certs) != 2 || certs[0].IsCA || !certs[1].IsCA || certs[0].VerifyHostname("127.0.0.1") != nil ||
		certs[0].CheckSignatureFrom(certs[1]) != nil {
		t.Errorf("%s: want a leaf for 127.0.0.1 signed by the CA after it, got %d certificates", c.CAFile, len(certs))
	}

	ns := c.NewNamespace(t, "facts")
	// The apiserver itself refuses loopback and link-local endpoints.
	for _, ip := range []string{"127.0.0.1", "169.254.1.1"} {
		es := kube.EndpointSliceFor(ns, "x", "x", nil, kube.ReadyEndpoint(ip))
		if _, err := cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, es, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("endpointslice with %s: err = %v, want invalid", ip, err)
		}
	}

	// A pod stays Pending (no scheduler, no kubelet), and without a node it
	// is deleted at once.
	pod := c.CreatePod(t, kube.NewPod(ns, "p"))
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("new pod is %q, want Pending", pod.Status.Phase)
	}
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deleted pod without a node: err = %v, want not found", err)
	}

	// A deleted namespace stays Terminating: no namespace controller.
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || got.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("deleted namespace 2 s later: %v, %v; want it Terminating", got.Status.Phase, err)
	}
}
