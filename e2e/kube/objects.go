package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Objects are created through the cluster's admin client. Names of
// namespaces should be fresh per test: without a namespace controller, a
// deleted namespace stays Terminating for ever.

// CreateNamespace creates the namespace name.
func (c *Cluster) CreateNamespace(t testing.TB, name string) *corev1.Namespace {
	t.Helper()
	return c.createNamespace(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// NewNamespace creates a namespace named prefix plus a random suffix (the
// apiserver's generateName) and returns its name.
func (c *Cluster) NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	return c.createNamespace(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}).Name
}

func (c *Cluster) createNamespace(t testing.TB, ns *corev1.Namespace) *corev1.Namespace {
	t.Helper()
	got, err := c.AdminClient.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create namespace %s%s: %v", c.Name, ns.Name, ns.GenerateName, err)
	}
	return got
}

// TCPPort and UDPPort are service ports (targetPort = port).
func TCPPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(port)}
}

// UDPPort is a UDP service port.
func UDPPort(name string, port int32) corev1.ServicePort {
	p := TCPPort(name, port)
	p.Protocol = corev1.ProtocolUDP
	return p
}

// ClusterIPService is a ClusterIP Service; the apiserver allocates its IP
// from the cluster's ServiceCIDR.
func ClusterIPService(namespace, name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Ports:    ports,
			Selector: map[string]string{"app": name},
		},
	}
}

// HeadlessService is a Service with clusterIP None (answers come from its
// EndpointSlices).
func HeadlessService(namespace, name string, ports ...corev1.ServicePort) *corev1.Service {
	s := ClusterIPService(namespace, name, ports...)
	s.Spec.ClusterIP = corev1.ClusterIPNone
	return s
}

// ExternalNameService is a Service that is a CNAME to externalName.
func ExternalNameService(namespace, name, externalName string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: externalName},
	}
}

// CreateService creates svc and returns it as stored (with its ClusterIP).
func (c *Cluster) CreateService(t testing.TB, svc *corev1.Service) *corev1.Service {
	t.Helper()
	got, err := c.AdminClient.CoreV1().Services(svc.Namespace).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create service %s/%s: %v", c.Name, svc.Namespace, svc.Name, err)
	}
	return got
}

// ReadyEndpoint is a ready endpoint with the given addresses, which must be
// CheckDataAddress-clean.
func ReadyEndpoint(addresses ...string) discoveryv1.Endpoint {
	ready := true
	return discoveryv1.Endpoint{Addresses: addresses, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
}

// EndpointPort is a named EndpointSlice port.
func EndpointPort(name string, protocol corev1.Protocol, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &protocol, Port: &port}
}

// EndpointSliceFor is an EndpointSlice named name for the Service
// namespace/service (label kubernetes.io/service-name), its address type
// taken from the first endpoint's first address.
func EndpointSliceFor(namespace, service, name string, ports []discoveryv1.EndpointPort, endpoints ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	at := discoveryv1.AddressTypeIPv4
	if len(endpoints) > 0 && len(endpoints[0].Addresses) > 0 {
		if a, err := netip.ParseAddr(endpoints[0].Addresses[0]); err == nil && a.Is6() {
			at = discoveryv1.AddressTypeIPv6
		}
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Labels:    map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: at,
		Endpoints:   endpoints,
		Ports:       ports,
	}
}

// CreateEndpointSlice creates es after checking its addresses with
// CheckDataAddress.
func (c *Cluster) CreateEndpointSlice(t testing.TB, es *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	t.Helper()
	for _, ep := range es.Endpoints {
		for _, a := range ep.Addresses {
			if err := CheckDataAddress(a); err != nil {
				t.Fatalf("endpointslice %s/%s: %v", es.Namespace, es.Name, err)
			}
		}
	}
	got, err := c.AdminClient.DiscoveryV1().EndpointSlices(es.Namespace).Create(context.Background(), es, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create endpointslice %s/%s: %v", c.Name, es.Namespace, es.Name, err)
	}
	return got
}

// NewPod is a Pod with one container (its image is never pulled: no kubelet
// runs) and the label app=name.
func NewPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
}

// CreatePod creates pod and, as a kubelet would, patches its status
// through the status subresource: phase Running, Ready, and the given IPs
// as podIP/podIPs (each CheckDataAddress-clean). It returns the pod as
// stored after the patch.
func (c *Cluster) CreatePod(t testing.TB, pod *corev1.Pod, ips ...string) *corev1.Pod {
	t.Helper()
	for _, ip := range ips {
		if err := CheckDataAddress(ip); err != nil {
			t.Fatalf("pod %s/%s: %v", pod.Namespace, pod.Name, err)
		}
	}
	ctx := context.Background()
	pods := c.AdminClient.CoreV1().Pods(pod.Namespace)
	got, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create pod %s/%s: %v", c.Name, pod.Namespace, pod.Name, err)
	}
	if len(ips) == 0 {
		return got
	}
	type podIP struct {
		IP string `json:"ip"`
	}
	status := map[string]any{
		"phase":      corev1.PodRunning,
		"podIP":      ips[0],
		"conditions": []map[string]any{{"type": corev1.PodReady, "status": corev1.ConditionTrue}},
	}
	var all []podIP
	for _, ip := range ips {
		all = append(all, podIP{ip})
	}
	status["podIPs"] = all
	patch, _ := json.Marshal(map[string]any{"status": status})
	got, err = pods.Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("%s: patch status of pod %s/%s: %v", c.Name, pod.Namespace, pod.Name, err)
	}
	return got
}

// dataPrefixes are where addresses that only appear as data in answers
// come from: 10/8 and the documentation ranges. Nothing there is dialed.
var dataPrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// CheckDataAddress refuses an address an endpoint or pod may not have in
// these tests: anything but 10.x and the documentation ranges (192.0.2.x,
// 198.51.100.x, 203.0.113.x, 2001:db8::/32). Loopback and link-local are
// also refused by the apiserver itself.
func CheckDataAddress(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("address %q: %v", s, err)
	}
	for _, p := range dataPrefixes {
		if p.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("address %s: use 10.x or a documentation range (192.0.2.x, 2001:db8::) for data addresses, never loopback or a real network", s)
}
