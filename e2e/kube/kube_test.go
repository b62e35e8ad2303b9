package kube_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// TestMain builds (or finds cached) kube-apiserver and etcd before the
// tests run; a failed build fails the package (see kube.Main).
func TestMain(m *testing.M) {
	if os.Getenv(crashChild) != "" {
		os.Exit(m.Run())
	}
	os.Exit(kube.Main(m))
}

// clientFrom loads a kubeconfig file as a user of the plugin would.
func clientFrom(t *testing.T, path, context string) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// made is what the test created in one cluster.
type made struct {
	ns       string
	services map[string]*corev1.Service
	sliceIP  string
	podIP    string
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	env := kube.Start(t, kube.Options{Clusters: 2})
	t.Logf("etcd and %d kube-apiservers ready in %s", len(env.Clusters), time.Since(start).Round(time.Millisecond))

	// Objects, created as admin; every cluster gets different addresses.
	mades := make([]made, len(env.Clusters))
	for i, c := range env.Clusters {
		c.ApplyRBAC(t)
		m := made{ns: c.NewNamespace(t, "smoke"), services: map[string]*corev1.Service{}}
		for _, s := range []*corev1.Service{
			kube.ClusterIPService(m.ns, "web", kube.TCPPort("http", 80), kube.UDPPort("dns", 53)),
			kube.HeadlessService(m.ns, "db", kube.TCPPort("pg", 5432)),
			kube.ExternalNameService(m.ns, "ext", fmt.Sprintf("c%d.example.org", i)),
		} {
			m.services[s.Name] = c.CreateService(t, s)
		}
		cidr := netip.MustParsePrefix(c.ServiceCIDR)
		if ip := m.services["web"].Spec.ClusterIP; !cidr.Contains(netip.MustParseAddr(ip)) {
			t.Errorf("%s: web's ClusterIP %s is outside the cluster's range %s", c.Name, ip, cidr)
		}
		m.sliceIP = fmt.Sprintf("192.0.2.%d", 10+i)
		c.CreateEndpointSlice(t, kube.EndpointSliceFor(m.ns, "db", "db-1",
			[]discoveryv1.EndpointPort{kube.EndpointPort("pg", corev1.ProtocolTCP, 5432)},
			kube.ReadyEndpoint(m.sliceIP)))
		m.podIP = fmt.Sprintf("10.244.%d.5", i)
		pod := c.CreatePod(t, kube.NewPod(m.ns, "db-0"), m.podIP)
		if pod.Status.PodIP != m.podIP || pod.Status.Phase != corev1.PodRunning {
			t.Errorf("%s: pod status after patch: %s %q, want Running %q", c.Name, pod.Status.Phase, pod.Status.PodIP, m.podIP)
		}
		mades[i] = m
	}

	// What the least-privilege user sees, through kubeconfig files.
	for i, c := range env.Clusters {
		checkRole(t, c)
		plugin := clientFrom(t, c.Kubeconfig(t, kube.Plugin), "")
		checkVisible(t, c.Name, plugin, mades[i])
		checkWatch(t, c, plugin, mades[i].ns)
		checkForbidden(t, c.Name, plugin, mades[i].ns)
		nobody := clientFrom(t, c.Kubeconfig(t, kube.Nobody), "")
		if _, err := nobody.CoreV1().Services("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %s lists services: err = %v, want forbidden", c.Name, kube.Nobody, err)
		}
	}

	// The clusters are apart: one cluster's tokens and objects are unknown
	// to the other; the many-context kubeconfig reaches each.
	a, b := env.Clusters[0], env.Clusters[1]
	path := b.Kubeconfig(t, kube.Plugin)
	if err := b.WriteKubeconfig(path, a.Token(kube.Plugin)); err != nil {
		t.Fatal(err)
	}
	if _, err := clientFrom(t, path, "").CoreV1().Services("").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("%s's token on %s: err = %v, want unauthorized", a.Name, b.Name, err)
	}
	if _, err := b.AdminClient.CoreV1().Namespaces().Get(ctx, mades[0].ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("%s's namespace %s on %s: err = %v, want not found", a.Name, mades[0].ns, b.Name, err)
	}
	all := env.Kubeconfig(t, kube.Plugin)
	for i, c := range env.Clusters {
		checkVisible(t, c.Name+" (context of the shared kubeconfig)", clientFrom(t, all, c.Name), mades[i])
	}

	// Stop one apiserver: it refuses connections, the other serves on.
	// Started again, it serves the same data on the same port and CA.
	plugin := clientFrom(t, b.Kubeconfig(t, kube.Plugin), "")
	pid := b.PID()
	stop := time.Now()
	b.Stop()
	t.Logf("%s stopped in %s", b.Name, time.Since(stop).Round(time.Millisecond))
	if alive(pid) {
		t.Errorf("%s's apiserver (pid %d) still runs after Stop", b.Name, pid)
	}
	_, err := plugin.CoreV1().Services(mades[1].ns).List(ctx, metav1.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("%s stopped: list services: err = %v, want connection refused", b.Name, err)
	}
	checkVisible(t, a.Name+" while "+b.Name+" is down", clientFrom(t, a.Kubeconfig(t, kube.Plugin), ""), mades[0])
	restart := time.Now()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s restarted and ready in %s", b.Name, time.Since(restart).Round(time.Millisecond))
	if b.PID() == pid || b.PID() == 0 {
		t.Errorf("%s: pid %d after restart, was %d", b.Name, b.PID(), pid)
	}
	checkVisible(t, b.Name+" after restart", plugin, mades[1])

	// Close leaves nothing running and nothing on disk.
	pids := []int{env.EtcdPID()}
	for _, c := range env.Clusters {
		pids = append(pids, c.PID())
	}
	env.Close()
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d still runs after Close", p)
		}
	}
	if _, err := os.Stat(env.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s remains after Close: %v", env.Dir, err)
	}
}

// checkVisible lists, as the plugin does, everything made in one cluster.
func checkVisible(t *testing.T, where string, cs kubernetes.Interface, m made) {
	t.Helper()
	ctx := context.Background()
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("%s: list namespaces: %v", where, err)
	} else if !slices.ContainsFunc(nss.Items, func(n corev1.Namespace) bool { return n.Name == m.ns }) {
		t.Errorf("%s: namespace %s not listed", where, m.ns)
	}
	svcs, err := cs.CoreV1().Services(m.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("%s: list services: %v", where, err)
	} else {
		got := map[string]string{}
		for _, s := range svcs.Items {
			got[s.Name] = s.Spec.ClusterIP + s.Spec.ExternalName
		}
		want := map[string]string{}
		for n, s := range m.services {
			want[n] = s.Spec.ClusterIP + s.Spec.ExternalName
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: services %v, want %v", where, got, want)
		}
	}
	eps, err := cs.DiscoveryV1().EndpointSlices(m.ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=db"})
	if err != nil {
		t.Errorf("%s: list endpointslices: %v", where, err)
	} else if len(eps.Items) != 1 || len(eps.Items[0].Endpoints) != 1 ||
		!slices.Equal(eps.Items[0].Endpoints[0].Addresses, []string{m.sliceIP}) {
		t.Errorf("%s: endpointslices of db: %+v, want one with %s", where, eps.Items, m.sliceIP)
	}
	pods, err := cs.CoreV1().Pods(m.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("%s: list pods: %v", where, err)
	} else if len(pods.Items) != 1 || pods.Items[0].Status.PodIP != m.podIP ||
		len(pods.Items[0].Status.PodIPs) != 1 || pods.Items[0].Status.PodIPs[0].IP != m.podIP {
		t.Errorf("%s: pods %+v, want one with podIP %s", where, pods.Items, m.podIP)
	}
}

// checkWatch watches services as the plugin and sees one created.
func checkWatch(t *testing.T, c *kube.Cluster, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("%s: list services: %v", c.Name, err)
	}
	w, err := cs.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("%s: watch services as %s: %v", c.Name, kube.Plugin, err)
	}
	defer w.Stop()
	late := c.CreateService(t, kube.ClusterIPService(ns, "late", kube.TCPPort("http", 8080)))
	if err := c.AdminClient.CoreV1().Services(ns).Delete(ctx, late.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var events []string
	for ev := range w.ResultChan() {
		if s, ok := ev.Object.(*corev1.Service); ok {
			events = append(events, string(ev.Type)+" "+s.Name)
		} else {
			events = append(events, fmt.Sprintf("%s %T", ev.Type, ev.Object))
		}
		if ev.Type == watch.Deleted {
			break
		}
	}
	if want := []string{"ADDED late", "DELETED late"}; !slices.Equal(events, want) {
		t.Errorf("%s: watch events %v, want %v", c.Name, events, want)
	}
}

// checkRole asks the apiserver what the plugin's role allows: list and
// watch on exactly its five resources (serviceimports' CRD need not be
// installed), no other verb on them, nothing on what it does not read.
func checkRole(t *testing.T, c *kube.Cluster) {
	t.Helper()
	type resource struct{ group, name string }
	granted := []resource{
		{"", "namespaces"}, {"", "services"}, {"", "pods"},
		{"discovery.k8s.io", "endpointslices"}, {"multicluster.x-k8s.io", "serviceimports"},
	}
	others := []resource{{"", "secrets"}, {"", "configmaps"}, {"", "endpoints"}, {"", "nodes"}, {"apps", "deployments"}}
	for _, r := range append(granted, others...) {
		for _, verb := range []string{"list", "watch", "get", "create", "update", "patch", "delete", "deletecollection"} {
			want := slices.Contains(granted, r) && (verb == "list" || verb == "watch")
			got, err := c.Can(kube.Plugin, verb, r.group, r.name)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: %s may %s %s: %v, want %v", c.Name, kube.Plugin, verb, strings.TrimPrefix(r.group+"/"+r.name, "/"), got, want)
			}
		}
	}
}

// checkForbidden: the plugin's role is list and watch on its five
// resources, nothing more.
func checkForbidden(t *testing.T, where string, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	for what, call := range map[string]func() error{
		"list secrets": func() error {
			_, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		},
		"list configmaps": func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"get a service": func() error {
			_, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
			return err
		},
		"create a service": func() error {
			_, err := cs.CoreV1().Services(ns).Create(ctx, kube.ClusterIPService(ns, "nope", kube.TCPPort("p", 1)), metav1.CreateOptions{})
			return err
		},
		"delete a pod": func() error {
			return cs.CoreV1().Pods(ns).Delete(ctx, "db-0", metav1.DeleteOptions{})
		},
	} {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %s may %s: err = %v, want forbidden", where, kube.Plugin, what, err)
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: a zombie has exited and is only waiting to be reaped.
	s := string(b)
	return !strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z")
}

const crashChild = "KUBERNETAI_KUBE_CRASH_CHILD"

// TestCrashChild is run only by TestNoServerOutlivesACrash, in a child
// process: it starts a cluster, tells its pids and dies without cleanup,
// as a test binary killed by go test's timeout would.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChild) == "" {
		t.Skip("a helper: runs only as TestNoServerOutlivesACrash's child process")
	}
	env := kube.Start(t, kube.Options{Clusters: 1})
	fmt.Printf("DIR %s\nPIDS %d %d\n", env.Dir, env.EtcdPID(), env.Clusters[0].PID())
	os.Exit(3)
}

// TestNoServerOutlivesACrash: servers die with the test binary even when
// it exits without running its cleanups.
func TestNoServerOutlivesACrash(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChild+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	var dir string
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			dir = d
		}
		if f, ok := strings.CutPrefix(sc.Text(), "PIDS "); ok {
			for _, s := range strings.Fields(f) {
				n, _ := strconv.Atoi(s)
				pids = append(pids, n)
			}
		}
	}
	err = cmd.Wait()
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || len(pids) != 2 {
		t.Fatalf("child: %v, pids %v; its output:\n%s", err, pids, strings.Join(lines, "\n"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("pid %d outlived the test binary that started it", p)
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}
