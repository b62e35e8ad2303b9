#!/usr/bin/env bash
# mint-kubeconfig.sh: give kubernetai read access to a remote cluster and
# print a kubeconfig for it. Run it with kubectl credentials that may create
# ServiceAccounts and ClusterRoleBindings in the REMOTE cluster; store what it
# prints in the Secret kubernetai-clusters of the cluster kubernetai runs in.
# `mint-kubeconfig.sh --help` says more.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
Usage: $prog [OPTIONS] > CLUSTER.kubeconfig

In the cluster that kubectl's current (or --context) context reaches:
  1. applies the ClusterRole \`kubernetai\` of rbac.yaml (list and watch of
     namespaces, services, pods, endpointslices, serviceimports; nothing else),
  2. creates the ServiceAccount NAMESPACE/NAME and binds the ClusterRole to it
     (ClusterRoleBinding kubernetai:NAMESPACE:NAME),
  3. gets a token for it, and
  4. prints a kubeconfig with the server, its CA and the token on stdout.
Running it again is safe: it changes nothing that is already right, and
mints a new token (the old one stays valid until it expires).

Options:
  --context CONTEXT    kubectl context of the remote cluster (default: current)
  --kubeconfig FILE    kubeconfig kubectl reads (default: kubectl's own)
  --namespace NS       namespace of the ServiceAccount, created if missing
                       (default: kube-system)
  --name NAME          name of the ServiceAccount (default: kubernetai)
  --duration DURATION  lifetime asked of a TokenRequest token (default: 8760h,
                       a year); the API server may grant less, and the
                       expiry it granted is reported
  --secret             instead, a token that never expires, from a
                       kubernetes.io/service-account-token Secret NAME-token
                       (filled by kube-controller-manager)
  --wait SECONDS       how long to wait for that Secret's token (default: 60)
  --server URL         API server URL to write (default: the context's; give
                       the address the kubernetai pods reach it at, if other)
  --cluster-name NAME  name of the cluster and context in the kubeconfig
                       (default: the context's cluster name)
  --rbac FILE          manifest holding the ClusterRole (default: rbac.yaml
                       beside this script)
  -h, --help           this text

Environment: KUBECTL, the kubectl to run (default: kubectl on PATH).

Tokens: a TokenRequest token (the default) is signed by the API server, held
nowhere in the cluster, and expires; mint a new one before it does
(kubernetai's coredns_kubernetai_rest_client_requests_total shows 401s when
one has). A Secret token never expires, but sits in the remote cluster where
anyone who can read Secrets in NAMESPACE can take it, and needs
kube-controller-manager's token controller. Either stops working when the
ServiceAccount is deleted.

Examples:
  $prog --context east-admin > east.kubeconfig
  $prog --context west-admin --server https://10.1.0.1:6443 > west.kubeconfig
  kubectl -n kube-system create secret generic kubernetai-clusters \\
    --from-file=east.kubeconfig --from-file=west.kubeconfig
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

kubectl_bin=${KUBECTL:-kubectl}
context=""
kubeconfig=""
namespace=kube-system
name=kubernetai
duration=8760h
use_secret=false
wait_seconds=60
server=""
cluster_name=""
rbac="$here/rbac.yaml"

while (($# > 0)); do
	opt=$1
	case $opt in
	-h | --help)
		usage
		exit 0
		;;
	--secret)
		use_secret=true
		shift
		continue
		;;
	--*=*)
		set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
		continue
		;;
	--context | --kubeconfig | --namespace | --name | --duration | --wait | --server | --cluster-name | --rbac)
		(($# >= 2)) || {
			echo "$prog: $opt needs a value (see --help)" >&2
			exit 2
		}
		value=$2
		shift 2
		;;
	*)
		echo "$prog: unknown argument '$opt' (see --help)" >&2
		exit 2
		;;
	esac
	case $opt in
	--context) context=$value ;;
	--kubeconfig) kubeconfig=$value ;;
	--namespace) namespace=$value ;;
	--name) name=$value ;;
	--duration) duration=$value ;;
	--wait) wait_seconds=$value ;;
	--server) server=$value ;;
	--cluster-name) cluster_name=$value ;;
	--rbac) rbac=$value ;;
	esac
done

[[ $wait_seconds =~ ^[0-9]+$ ]] || die "--wait wants a number of seconds, got '$wait_seconds'"
command -v "$kubectl_bin" >/dev/null || die "kubectl not found ('$kubectl_bin'); install it or set KUBECTL"
[[ -r $rbac ]] || die "cannot read $rbac (the ClusterRole to bind; give its path with --rbac)"

k() {
	"$kubectl_bin" ${kubeconfig:+--kubeconfig "$kubeconfig"} ${context:+--context "$context"} "$@"
}

# Where the cluster is, from kubectl's own configuration (files inlined).
view=(config view --minify --raw --flatten)
k "${view[@]}" >/dev/null 2>&1 || die "kubectl has no usable context${context:+ '$context'}: $(k "${view[@]}" 2>&1 | tail -1)"
field() { k "${view[@]}" -o "jsonpath={$1}"; }
[[ -n $server ]] || server=$(field '.clusters[0].cluster.server')
[[ -n $server ]] || die "the context names no server; give one with --server"
[[ -n $cluster_name ]] || cluster_name=$(field '.contexts[0].context.cluster')
[[ -n $cluster_name ]] || cluster_name=remote
ca=$(field '.clusters[0].cluster.certificate-authority-data')
[[ -n $ca ]] || die "the context has no CA for $server (insecure-skip-tls-verify?); kubernetai needs one to verify the server"

# Can we? Ask before changing anything, so a refusal leaves nothing half done.
checks=("create serviceaccounts -n $namespace" "create clusterrolebindings" "create clusterroles")
if $use_secret; then
	checks+=("create secrets -n $namespace")
else
	checks+=("create serviceaccounts --subresource=token -n $namespace")
fi
for what in "${checks[@]}"; do
	# shellcheck disable=SC2086 # $what is words on purpose
	if ! answer=$(k auth can-i $what 2>&1); then
		[[ $answer == no* ]] || die "cannot reach the cluster at $server: $answer"
		die "your credentials may not '$what' in the cluster at $server (kubectl auth can-i says no)"
	fi
done

apply() {
	k apply --server-side --force-conflicts --field-manager=kubernetai-mint -f - >&2
}

# 1. The ClusterRole, and only it, from rbac.yaml (its other document binds
# the User kubernetai, which this identity does not need).
role=$(awk '
	/^---/ { if (doc ~ /\nkind: ClusterRole\n/) print doc; doc = ""; next }
	{ doc = doc "\n" $0 }
	END { if (doc ~ /\nkind: ClusterRole\n/) print doc }
' "$rbac")
[[ $role == *"name: kubernetai"* ]] || die "$rbac holds no ClusterRole named kubernetai"
apply <<<"$role" || die "could not apply the ClusterRole kubernetai"

# 2. The ServiceAccount and its binding.
if ! k get namespace "$namespace" >/dev/null 2>&1; then
	k create namespace "$namespace" >&2 || die "could not create namespace $namespace"
fi
k create serviceaccount "$name" --namespace "$namespace" --dry-run=client -o yaml | apply ||
	die "could not apply ServiceAccount $namespace/$name"
binding="kubernetai:$namespace:$name"
k create clusterrolebinding "$binding" --clusterrole=kubernetai --serviceaccount="$namespace:$name" \
	--dry-run=client -o yaml | apply ||
	die "could not apply ClusterRoleBinding $binding (an existing one with another roleRef must be deleted first)"

# 3. The token.
if $use_secret; then
	secret="$name-token"
	apply <<EOF || die "could not apply Secret $namespace/$secret"
apiVersion: v1
kind: Secret
metadata:
  name: $secret
  namespace: $namespace
  annotations:
    kubernetes.io/service-account.name: $name
type: kubernetes.io/service-account-token
EOF
	token=""
	for ((i = 0; i <= wait_seconds; i++)); do
		token=$(k get secret "$secret" --namespace "$namespace" -o 'jsonpath={.data.token}')
		[[ -z $token ]] || break
		((i == wait_seconds)) || sleep 1
	done
	[[ -n $token ]] || die "Secret $namespace/$secret has no token after ${wait_seconds}s: the token controller of kube-controller-manager fills it; without one, use a TokenRequest token (omit --secret)"
	token=$(base64 -d <<<"$token")
	echo "$prog: token from Secret $namespace/$secret (never expires; delete the Secret to revoke it)" >&2
else
	token=$(k create token "$name" --namespace "$namespace" --duration "$duration") ||
		die "could not get a token for ServiceAccount $namespace/$name"
	# The expiry the server granted, from the token's claims.
	claims=$(cut -d. -f2 <<<"$token" | tr '_-' '/+')
	while ((${#claims} % 4)); do claims+="="; done
	exp=$(base64 -d <<<"$claims" 2>/dev/null | sed -n 's/.*"exp":\([0-9]*\).*/\1/p')
	if [[ -n $exp ]]; then
		when=$(date -u -d "@$exp" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || date -u -r "$exp" '+%Y-%m-%d %H:%M UTC')
		echo "$prog: token for $namespace/$name expires $when; mint a new one before then" >&2
	fi
fi

# 4. The kubeconfig.
user="$namespace-$name@$cluster_name"
cat <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: "$cluster_name"
    cluster:
      server: "$server"
      certificate-authority-data: "$ca"
users:
  - name: "$user"
    user:
      token: "$token"
contexts:
  - name: "$cluster_name"
    context:
      cluster: "$cluster_name"
      user: "$user"
current-context: "$cluster_name"
EOF
echo "$prog: kubeconfig for $server as system:serviceaccount:$namespace:$name printed; store it as a key of the Secret kubernetai-clusters (deploy/remote-clusters.example.yaml)" >&2
