package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// RBACManifest is the path of the RBAC manifest users apply in every
// cluster the plugin watches: a ClusterRole `kubernetai` (list and watch on
// what the plugin reads) bound to the User `kubernetai`.
func RBACManifest() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	// The manifest users apply is the one under test: deploy/ at the
	// repository's top, beside the e2e module.
	return filepath.Join(filepath.Dir(root), "deploy", "rbac.yaml"), nil
}

// ApplyRBAC applies RBACManifest to this cluster and waits until the
// apiserver authorizes the Plugin user by it.
func (c *Cluster) ApplyRBAC(t testing.TB) {
	t.Helper()
	path, err := RBACManifest()
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyManifest(t, path)
	// The RBAC authorizer reads bindings from an informer: wait until it
	// has this one, so the next request as Plugin sees it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		allowed, err := c.Can(Plugin, "list", "", "services")
		if err != nil {
			t.Fatal(err)
		}
		if allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s may still not list services 30 s after applying %s", c.Name, Plugin, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Can asks the apiserver (a SubjectAccessReview, as admin) whether u may
// do verb on resource of group in every namespace.
func (c *Cluster) Can(u User, verb, group, resource string) (bool, error) {
	r, err := c.AdminClient.AuthorizationV1().SubjectAccessReviews().Create(context.Background(),
		&authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               string(u),
			Groups:             []string{"system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource},
		}}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("%s: subject access review: %w", c.Name, err)
	}
	return r.Status.Allowed, nil
}

// ApplyManifest server-side applies every object of a YAML manifest (any
// kind the apiserver serves) as admin.
func (c *Cluster) ApplyManifest(t testing.TB, path string) {
	t.Helper()
	if err := c.applyManifest(path); err != nil {
		t.Fatalf("%s: apply %s: %v", c.Name, path, err)
	}
}

func (c *Cluster) applyManifest(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	groups, err := restmapper.GetAPIGroupResources(c.AdminClient.Discovery())
	if err != nil {
		return err
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn, err := dynamic.NewForConfig(c.RestConfig(Admin))
	if err != nil {
		return err
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	n := 0
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk, obj.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ns := obj.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Apply(context.Background(), obj.GetName(), &obj,
			metav1.ApplyOptions{FieldManager: "kubernetai-e2e", Force: true}); err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no objects")
	}
	return nil
}
