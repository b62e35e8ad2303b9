package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// TestDeploy applies deploy/ to a real kube-apiserver with the kubectl of
// the same release (server-side apply: the API server validates every field,
// strictly), checks that the objects it stored fit together (the probes hit
// the Corefile's ready and health ports, the Corefile's kubeconfig is a key
// of the mounted Secret, the Service and PDB select the pods, the pod passes
// the restricted Pod Security level), mints a kubeconfig for a second
// cluster with deploy/mint-kubeconfig.sh, checks what it may and may not do,
// and runs CoreDNS on the ConfigMap's own Corefile: the local stanza as the
// Deployment's ServiceAccount, the remote one with the minted kubeconfig.
// Only etcd and kube-apiserver run: the Deployment gets no pods, so CoreDNS
// runs here as a process.
func TestDeploy(t *testing.T) {
	binary := corednsBinary(t)
	bins, err := kube.Build()
	if err != nil {
		t.Fatal(err)
	}
	if bins.Kubectl == "" {
		t.Fatal("no kubectl: KUBERNETAI_KUBE_APISERVER and KUBERNETAI_ETCD name the binaries, so KUBERNETAI_KUBECTL must name a kubectl too")
	}
	root, err := kube.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	deploy := filepath.Join(filepath.Dir(root), "deploy")
	applied := []string{"remote-clusters.example.yaml", "wasm/loader.yaml"}
	checkEveryManifestApplied(t, deploy, applied)

	env := kube.Start(t, kube.Options{Clusters: 2})
	local, remote := env.Clusters[0], env.Clusters[1]
	k := &kubectl{t: t, bin: bins.Kubectl, home: t.TempDir()}
	admin := env.Kubeconfig(t, kube.Admin) // contexts cluster0, cluster1
	asAdmin := []string{"--kubeconfig", admin, "--context", local.Name}

	// Everything, server-side, into the local cluster; the wasm component
	// and the loader pod with dry-run (no storage class, no kubelet).
	out := k.run(append(asAdmin, "apply", "--server-side", "--field-manager=kubernetai-e2e", "-k", deploy)...)
	for _, want := range []string{"serviceaccount/kubernetai", "configmap/kubernetai", "service/kubernetai",
		"deployment.apps/kubernetai", "poddisruptionbudget.policy/kubernetai",
		"clusterrole.rbac.authorization.k8s.io/kubernetai", "clusterrolebinding.rbac.authorization.k8s.io/kubernetai:kube-system:kubernetai"} {
		if !strings.Contains(out, want+" serverside-applied") {
			t.Errorf("kubectl apply -k deploy/ did not apply %s:\n%s", want, out)
		}
	}
	k.run(append(asAdmin, "apply", "--server-side", "--field-manager=kubernetai-e2e", "-f", filepath.Join(deploy, applied[0]))...)
	overlay := wasmOverlay(t, deploy)
	out = k.run(append(asAdmin, "apply", "--server-side", "--dry-run=server", "--field-manager=kubernetai-e2e", "-k", overlay)...)
	if !strings.Contains(out, "persistentvolumeclaim/kubernetai-wasm serverside-applied (server dry run)") {
		t.Errorf("the wasm component's claim was not applied:\n%s", out)
	}
	checkWasmVolume(t, k.run("kustomize", overlay))
	k.run(append(asAdmin, "apply", "--server-side", "--dry-run=server", "--field-manager=kubernetai-e2e", "-f", filepath.Join(deploy, applied[1]))...)

	ctx := context.Background()
	cs := local.AdminClient
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubernetai", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	corefile := cm.Data["Corefile"]
	dep, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "kubernetai", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDeployment(t, cs, dep, cm, corefile)
	checkRestricted(t, local, dep)

	// The local stanza's identity: the Deployment's ServiceAccount, bound
	// by deploy/serviceaccount.yaml.
	sa := "system:serviceaccount:kube-system:" + dep.Spec.Template.Spec.ServiceAccountName
	checkCan(t, local, kube.User(sa))

	// The remote cluster's credentials, minted by the script.
	script := filepath.Join(deploy, "mint-kubeconfig.sh")
	mint := func(args ...string) (string, string, error) {
		return k.exec(append([]string{"bash", script}, args...), "KUBECTL="+bins.Kubectl)
	}
	if stdout, _, err := mint("--help"); err != nil || !strings.Contains(stdout, "Usage: mint-kubeconfig.sh") {
		t.Errorf("--help: %v\n%s", err, stdout)
	}
	if _, stderr, err := mint("--no-such-option"); exitCode(err) != 2 || !strings.Contains(stderr, "unknown argument") {
		t.Errorf("an unknown option: exit %d, want 2 with a message:\n%s", exitCode(err), stderr)
	}
	nobody := remote.Kubeconfig(t, kube.Nobody)
	if _, stderr, err := mint("--kubeconfig", nobody, "--name", "kubernetai-nobody"); err == nil || !strings.Contains(stderr, "may not") {
		t.Errorf("minting with credentials that may do nothing: %v, want a refusal naming what is missing:\n%s", err, stderr)
	}
	if _, err := remote.AdminClient.CoreV1().ServiceAccounts("kube-system").Get(ctx, "kubernetai-nobody", metav1.GetOptions{}); err == nil {
		t.Error("a refused mint left a ServiceAccount behind")
	}
	var minted string
	for i := range 2 { // the second run must find everything in place
		stdout, stderr, err := mint("--kubeconfig", admin, "--context", remote.Name)
		if err != nil {
			t.Fatalf("mint-kubeconfig.sh (run %d): %v\n%s", i+1, err, stderr)
		}
		if !regexp.MustCompile(`token for kube-system/kubernetai expires \d{4}-\d\d-\d\d`).MatchString(stderr) {
			t.Errorf("run %d did not report the token's expiry:\n%s", i+1, stderr)
		}
		minted = stdout
		if i == 1 {
			t.Logf("mint-kubeconfig.sh, run again:\n%s", stderr)
		}
	}
	if !strings.Contains(minted, `server: "`+remote.URL+`"`) || !strings.Contains(minted, "certificate-authority-data: ") {
		t.Errorf("the minted kubeconfig does not name %s with its CA:\n%s", remote.URL, minted)
	}
	if _, stderr, err := mint("--kubeconfig", admin, "--context", remote.Name, "--name", "kubernetai-secret", "--secret", "--wait", "2"); err == nil ||
		!strings.Contains(stderr, "kube-controller-manager") {
		t.Errorf("--secret without a token controller: %v, want a failure that says what fills the Secret:\n%s", err, stderr)
	}
	mintedPath := filepath.Join(t.TempDir(), "remote.kubeconfig")
	if err := os.WriteFile(mintedPath, []byte(minted), 0o600); err != nil {
		t.Fatal(err)
	}
	checkMinted(t, k, mintedPath)

	// CoreDNS on the ConfigMap's Corefile, changed only where a process
	// outside a pod must differ: loopback ports, the in-cluster
	// credentials (a token of the same ServiceAccount, and the hold they
	// imply), the Secret's directory, and an upstream that is not dialed.
	tok, err := cs.CoreV1().ServiceAccounts("kube-system").CreateToken(ctx, dep.Spec.Template.Spec.ServiceAccountName,
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	localPath := filepath.Join(t.TempDir(), "local.kubeconfig")
	if err := local.WriteKubeconfig(localPath, tok.Status.Token); err != nil {
		t.Fatal(err)
	}
	health := freePort(t)
	live := rewriteOnce(t, corefile,
		".:53 {\n", ".:{port} {\n    bind 127.0.0.1\n",
		"health :8080 {", fmt.Sprintf("health 127.0.0.1:%d {", health),
		"ready :8181\n", "ready 127.0.0.1:{ready}\n",
		"prometheus :9153\n", "prometheus 127.0.0.1:{metrics}\n",
		"        pods insecure\n", "        kubeconfig local.kubeconfig\n        readiness hold\n        pods insecure\n",
		"/etc/kubernetai/clusters/", "",
		"forward . /etc/resolv.conf {", fmt.Sprintf("forward . 127.0.0.1:%d {", freePort(t)),
	)

	lns := local.NewNamespace(t, "deploy")
	web := local.CreateService(t, kube.ClusterIPService(lns, "web", kube.TCPPort("http", 80)))
	rns := remote.NewNamespace(t, "deploy")
	api := remote.CreateService(t, kube.ClusterIPService(rns, "api", kube.TCPPort("grpc", 9090)))
	remote.CreateService(t, kube.HeadlessService(rns, "db", kube.TCPPort("pg", 5432)))
	remote.CreateEndpointSlice(t, kube.EndpointSliceFor(rns, "db", "db-1",
		[]discoveryv1.EndpointPort{kube.EndpointPort("pg", corev1.ProtocolTCP, 5432)}, kube.ReadyEndpoint("10.77.0.5")))

	s := startBinary(t, binary, map[string]string{
		"Corefile":          live,
		"local.kubeconfig":  mustRead(t, localPath),
		"remote.kubeconfig": minted,
	})
	s.waitReady(t)
	expect(t, s, serviceName(web, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(web)...)
	// Not in the local cluster: answered by the remote stanza, through
	// fallthrough, with the minted credentials.
	expect(t, s, serviceName(api, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(api)...)
	expect(t, s, "db."+rns+".svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.77.0.5")
	later := remote.CreateService(t, kube.ClusterIPService(rns, "later", kube.TCPPort("http", 80)))
	expect(t, s, serviceName(later, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(later)...)
	expect(t, s, "nothing."+rns+".svc.cluster.local.", dns.TypeA, dns.RcodeNameError)
	names := regexp.MustCompile(`(?m)^\s*cluster (\S+)$`).FindAllStringSubmatch(corefile, -1)
	if len(names) != 2 {
		t.Fatalf("the Corefile names %d clusters, want both stanzas named: %v", len(names), names)
	}
	for _, m := range names {
		stanza := m[1]
		waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_synced", stanza), func(v float64) bool { return v == 1 })
	}
	if code := httpStatus(fmt.Sprintf("http://127.0.0.1:%d/health", health), 5*time.Second); code != http.StatusOK {
		t.Errorf("/health answered %d, want 200", code)
	}
	if m := regexp.MustCompile(`(?i)[^\n]*(forbidden|unauthorized)[^\n]*`).FindString(s.out.String()); m != "" {
		t.Errorf("CoreDNS was refused something: %s", m)
	}
}

// kubectl runs the harness's kubectl with a HOME of its own (no user
// configuration, no discovery cache outside the test).
type kubectl struct {
	t    *testing.T
	bin  string
	home string
}

// exec runs argv with kubectl's environment (plus extra) and returns its
// stdout and stderr.
func (k *kubectl) exec(argv []string, extra ...string) (string, string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + k.home, "KUBECONFIG="}, extra...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return stdout.String(), stderr.String(), err
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return stdout.String(), stderr.String(), fmt.Errorf("%s: still running after 2 minutes", strings.Join(argv, " "))
	}
}

// try runs kubectl with args.
func (k *kubectl) try(args ...string) (string, string, error) {
	return k.exec(append([]string{k.bin}, args...))
}

// run runs kubectl with args and fails the test unless it succeeds.
func (k *kubectl) run(args ...string) string {
	k.t.Helper()
	stdout, stderr, err := k.try(args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rewriteOnce replaces each old (pairs: old, new) in s, each of which must
// occur exactly once: a Corefile that no longer has it fails the test
// rather than running unchanged.
func rewriteOnce(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := strings.Count(s, pairs[i]); n != 1 {
			t.Fatalf("the ConfigMap's Corefile has %q %d times, want once:\n%s", pairs[i], n, s)
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// kustomization is what the test reads of a kustomization.yaml.
type kustomization struct {
	Resources  []string `json:"resources"`
	Components []string `json:"components"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches"`
}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var k kustomization
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	return k
}

// checkEveryManifestApplied fails when a YAML file under deploy/ is neither
// in a kustomization the test applies (deploy/ and its wasm component) nor
// among the files it applies by name.
func checkEveryManifestApplied(t *testing.T, deploy string, byName []string) {
	t.Helper()
	covered := map[string]bool{"kustomization.yaml": true, "wasm/kustomization.yaml": true}
	for _, f := range byName {
		covered[f] = true
	}
	for _, dir := range []string{".", "wasm"} {
		k := readKustomization(t, filepath.Join(deploy, dir))
		for _, r := range k.Resources {
			covered[filepath.ToSlash(filepath.Join(dir, r))] = true
		}
		for _, p := range k.Patches {
			covered[filepath.ToSlash(filepath.Join(dir, p.Path))] = true
		}
	}
	err := filepath.WalkDir(deploy, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(deploy, path)
		if !covered[filepath.ToSlash(rel)] {
			t.Errorf("deploy/%s is not applied by TestDeploy: add it to a kustomization or to the test", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wasmOverlay is a kustomization of deploy/ with its wasm component, as a
// user enables it, in a temporary directory (paths relative: kustomize
// refuses absolute ones).
func wasmOverlay(t *testing.T, deploy string) string {
	t.Helper()
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, deploy)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("resources: [%s]\ncomponents: [%s]\n", rel, filepath.Join(rel, "wasm"))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkWasmVolume: with the component, the Deployment's wasm volume is the
// shared claim, read-only, and nothing else.
func checkWasmVolume(t *testing.T, rendered string) {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if obj["kind"] != "Deployment" {
			continue
		}
		var dep appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &dep); err != nil {
			t.Fatal(err)
		}
		v := volume(dep.Spec.Template.Spec, "wasm")
		if v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "kubernetai-wasm" ||
			!v.PersistentVolumeClaim.ReadOnly || v.EmptyDir != nil {
			t.Errorf("with the wasm component, the wasm volume is %+v, want only the claim kubernetai-wasm, read-only", v)
		}
		return
	}
	t.Error("kubectl kustomize with the wasm component rendered no Deployment")
}

func volume(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func mountPath(c corev1.Container, name string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == name {
			return m.MountPath
		}
	}
	return ""
}

// containerPort resolves a probe's or Service's port (a number or a name)
// to the container's port with that protocol.
func containerPort(c corev1.Container, name string, number int32, proto corev1.Protocol) (int32, bool) {
	for _, p := range c.Ports {
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.Protocol == proto && ((name != "" && p.Name == name) || (name == "" && p.ContainerPort == number)) {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// corefilePort is the port of a plugin's `NAME :PORT` line in the Corefile.
func corefilePort(t *testing.T, corefile, plugin string) int32 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + plugin + ` :(\d+)\b`).FindStringSubmatch(corefile)
	if m == nil {
		t.Fatalf("the Corefile has no `%s :PORT`:\n%s", plugin, corefile)
	}
	n, _ := strconv.Atoi(m[1])
	return int32(n)
}

// checkDeployment checks the stored Deployment against the brief it was
// written to and against the other objects it names.
func checkDeployment(t *testing.T, cs *kubernetes.Clientset, dep *appsv1.Deployment, cm *corev1.ConfigMap, corefile string) {
	t.Helper()
	ctx := context.Background()
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	podLabels := labels.Set(dep.Spec.Template.Labels)

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("replicas %v, want at least 2", dep.Spec.Replicas)
	}
	anti := false
	if a := pod.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			sel, err := metav1.LabelSelectorAsSelector(w.PodAffinityTerm.LabelSelector)
			anti = anti || (err == nil && sel.Matches(podLabels) && w.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname")
		}
	}
	if !anti {
		t.Error("no pod anti-affinity spreading the replicas over nodes")
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod may run as root")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) {
		t.Errorf("container security context %+v: want a read-only root, no privilege escalation, all capabilities dropped but NET_BIND_SERVICE", sc)
	}
	req, lim := c.Resources.Requests.Memory(), c.Resources.Limits.Memory()
	if req.IsZero() || lim.IsZero() || req.Cmp(*lim) > 0 || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit above the request", c.Resources)
	}

	// The server block listens on 53, where the container ports are.
	if !regexp.MustCompile(`(?m)^\.:53 \{`).MatchString(corefile) {
		t.Errorf("the Corefile's server block is not .:53:\n%s", corefile)
	}
	for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
		if _, ok := containerPort(c, "", 53, proto); !ok {
			t.Errorf("no container port 53/%s", proto)
		}
	}
	// Probes on the ready and health plugins' ports.
	for _, p := range []struct {
		probe        *corev1.Probe
		plugin, path string
	}{{c.ReadinessProbe, "ready", "/ready"}, {c.LivenessProbe, "health", "/health"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP probe for %s", p.plugin)
			continue
		}
		g := p.probe.HTTPGet
		port, ok := containerPort(c, g.Port.StrVal, g.Port.IntVal, corev1.ProtocolTCP)
		if want := corefilePort(t, corefile, p.plugin); !ok || port != want || g.Path != p.path {
			t.Errorf("%s probe: GET %s on port %v (container port %d), want %s on the Corefile's %s port %d",
				p.plugin, g.Path, g.Port.String(), port, p.path, p.plugin, want)
		}
	}

	// The Corefile comes from the ConfigMap, mounted where -conf looks.
	cfg := volume(pod, "corefile")
	if cfg == nil || cfg.ConfigMap == nil || cfg.ConfigMap.Name != cm.Name {
		t.Errorf("no volume of the ConfigMap %s: %+v", cm.Name, cfg)
	}
	if want := mountPath(c, "corefile") + "/Corefile"; !slices.Contains(c.Args, want) {
		t.Errorf("args %q do not name %s", c.Args, want)
	}
	// Each kubeconfig of the Corefile is a key of the mounted Secret.
	sec := volume(pod, "clusters")
	if sec == nil || sec.Secret == nil {
		t.Fatal("no volume of the remote clusters' Secret")
	}
	secret, err := cs.CoreV1().Secrets(dep.Namespace).Get(ctx, sec.Secret.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Secret the Deployment mounts: %v", err)
	}
	dir := mountPath(c, "clusters") + "/"
	kubeconfigs := regexp.MustCompile(`(?m)^\s*kubeconfig (\S+)`).FindAllStringSubmatch(corefile, -1)
	if len(kubeconfigs) == 0 {
		t.Error("the Corefile has no remote cluster")
	}
	for _, m := range kubeconfigs {
		key, ok := strings.CutPrefix(m[1], dir)
		if _, found := secret.Data[key]; !ok || !found {
			t.Errorf("the Corefile's kubeconfig %s is not a key of the Secret %s mounted at %s", m[1], secret.Name, dir)
		}
	}
	// The (commented) wasm path is on the wasm volume.
	if m := regexp.MustCompile(`(?m)^\s*#?\s*wasm (\S+)`).FindStringSubmatch(corefile); m == nil ||
		filepath.Dir(m[1]) != mountPath(c, "wasm") || volume(pod, "wasm") == nil {
		t.Errorf("the Corefile's wasm path %v is not on the wasm volume (mounted at %q)", m, mountPath(c, "wasm"))
	}

	// The Service reaches the container's ports, selecting these pods.
	svc, err := cs.CoreV1().Services(dep.Namespace).Get(ctx, "kubernetai", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("the Service's selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
	}
	var metrics int32
	for _, p := range svc.Spec.Ports {
		port, ok := containerPort(c, p.TargetPort.StrVal, p.TargetPort.IntVal, p.Protocol)
		if !ok {
			t.Errorf("Service port %s (%d/%s) reaches no container port", p.Name, p.Port, p.Protocol)
		}
		if p.Port == 53 && port != 53 {
			t.Errorf("Service port %s/%s reaches container port %d", p.Name, p.Protocol, port)
		}
		if p.Name == "metrics" {
			metrics = port
		}
	}
	if want := corefilePort(t, corefile, "prometheus"); metrics != want {
		t.Errorf("the Service's metrics reach port %d, the prometheus plugin listens on %d", metrics, want)
	}

	// The disruption budget selects them and leaves one up.
	pdb, err := cs.PolicyV1().PodDisruptionBudgets(dep.Namespace).Get(ctx, "kubernetai", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the PodDisruptionBudget's selector %v does not select the pods", pdb.Spec.Selector)
	}
	if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() < 1 || int(*dep.Spec.Replicas)-mu.IntValue() < 1 {
		t.Errorf("maxUnavailable %v with %d replicas", mu, *dep.Spec.Replicas)
	}
}

// checkRestricted creates the Deployment's pod (dry run) in a namespace
// that enforces the restricted Pod Security level: admitted. A copy that
// allows privilege escalation is refused, so the namespace does enforce.
func checkRestricted(t *testing.T, c *kube.Cluster, dep *appsv1.Deployment) {
	t.Helper()
	ctx := context.Background()
	ns, err := c.AdminClient.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "restricted-",
		Labels:       map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "kubernetai", Labels: dep.Spec.Template.Labels},
		Spec:       *dep.Spec.Template.Spec.DeepCopy(),
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := c.AdminClient.CoreV1().Pods(ns.Name).Create(ctx, pod, dry); err != nil {
		t.Errorf("the Deployment's pod is refused where the restricted Pod Security level is enforced: %v", err)
	}
	yes := true
	pod.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes
	if _, err := c.AdminClient.CoreV1().Pods(ns.Name).Create(ctx, pod, dry); err == nil || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("a pod allowing privilege escalation: %v, want a PodSecurity refusal", err)
	}
}

// checkCan: u may list and watch what DNS reads, and nothing else asked.
func checkCan(t *testing.T, c *kube.Cluster, u kube.User) {
	t.Helper()
	// The RBAC authorizer learns of a new binding from a watch.
	waitFor(t, string(u)+" may list services", 30*time.Second, func() bool {
		ok, err := c.Can(u, "list", "", "services")
		return err == nil && ok
	})
	for _, q := range []struct {
		verb, group, resource string
		want                  bool
	}{
		{"list", "", "services", true},
		{"watch", "discovery.k8s.io", "endpointslices", true},
		{"list", "", "namespaces", true},
		{"get", "", "services", false},
		{"list", "", "secrets", false},
		{"create", "", "services", false},
	} {
		got, err := c.Can(u, q.verb, q.group, q.resource)
		if err != nil {
			t.Fatal(err)
		}
		if got != q.want {
			t.Errorf("%s: may %s %s.%s: %t, want %t", u, q.verb, q.resource, q.group, got, q.want)
		}
	}
}

// checkMinted asks the API server, with the minted kubeconfig, what it may
// do: list and watch what DNS reads; not read Secrets, get or write.
func checkMinted(t *testing.T, k *kubectl, path string) {
	t.Helper()
	waitFor(t, "the minted kubeconfig may list services", 30*time.Second, func() bool {
		stdout, _, err := k.try("--kubeconfig", path, "auth", "can-i", "list", "services", "-A")
		return err == nil && strings.TrimSpace(stdout) == "yes"
	})
	for _, q := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "services", "-A"}, "yes"},
		{[]string{"watch", "endpointslices.discovery.k8s.io", "-A"}, "yes"},
		{[]string{"list", "namespaces"}, "yes"},
		{[]string{"watch", "pods", "-A"}, "yes"},
		{[]string{"get", "secrets", "-A"}, "no"},
		{[]string{"list", "secrets", "-A"}, "no"},
		{[]string{"get", "services", "-A"}, "no"},
		{[]string{"create", "services", "-n", "default"}, "no"},
	} {
		stdout, stderr, err := k.try(append([]string{"--kubeconfig", path, "auth", "can-i"}, q.args...)...)
		if got := strings.TrimSpace(stdout); got != q.want || (q.want == "yes") != (err == nil) {
			t.Errorf("minted kubeconfig: can-i %s: %q (%v %s), want %s", strings.Join(q.args, " "), got, err, stderr, q.want)
		}
	}
	if _, stderr, err := k.try("--kubeconfig", path, "get", "secrets", "-A"); err == nil || !strings.Contains(stderr, "forbidden") {
		t.Errorf("minted kubeconfig: get secrets: %v, want forbidden:\n%s", err, stderr)
	}
}
