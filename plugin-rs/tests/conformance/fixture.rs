//! Cluster objects for the conformance table, written as the Kubernetes API
//! serialises them.

use kubernetai::contract::{Change, Event, Kind};

pub fn upsert(kind: Kind, json: String) -> Event {
    Event { change: Change::Upsert, kind, object: json.into_bytes() }
}

pub fn namespace(name: &str) -> Event {
    upsert(Kind::Namespace, format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}"}}}}"#))
}

/// `name:port/PROTO` (or `port/PROTO` for an unnamed port).
fn ports(specs: &[&str]) -> String {
    let ports: Vec<String> = specs
        .iter()
        .map(|spec| {
            let (name, rest) = spec.split_once(':').unwrap_or(("", spec));
            let (port, proto) = rest.split_once('/').unwrap();
            if name.is_empty() {
                format!(r#"{{"port":{port},"protocol":"{proto}"}}"#)
            } else {
                format!(r#"{{"name":"{name}","port":{port},"protocol":"{proto}"}}"#)
            }
        })
        .collect();
    format!("[{}]", ports.join(","))
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

pub fn cluster_ip(namespace: &str, name: &str, ips: &[&str], port_specs: &[&str]) -> Event {
    upsert(
        Kind::Service,
        format!(
            r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"{name}","namespace":"{namespace}","resourceVersion":"1"}},
               "spec":{{"type":"ClusterIP","clusterIP":"{}","clusterIPs":{},"ports":{}}}}}"#,
            ips[0],
            list(ips),
            ports(port_specs)
        ),
    )
}

pub fn headless(namespace: &str, name: &str, port_specs: &[&str]) -> Event {
    upsert(
        Kind::Service,
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"{namespace}"}},
               "spec":{{"type":"ClusterIP","clusterIP":"None","clusterIPs":["None"],"ports":{}}}}}"#,
            ports(port_specs)
        ),
    )
}

pub fn external(namespace: &str, name: &str, target: &str) -> Event {
    upsert(
        Kind::Service,
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"{namespace}"}},
               "spec":{{"type":"ExternalName","externalName":"{target}"}}}}"#
        ),
    )
}

/// One endpoint of a slice: `ip[,ip...]` with optional `hostname=`,
/// `pod=` (target ref), `zone=` and `ready=false`.
pub struct Endpoint<'a> {
    pub ips: &'a [&'a str],
    pub hostname: Option<&'a str>,
    pub pod: Option<&'a str>,
    pub zone: Option<&'a str>,
    pub ready: bool,
}

pub fn ep<'a>(ips: &'a [&'a str]) -> Endpoint<'a> {
    Endpoint { ips, hostname: None, pod: None, zone: None, ready: true }
}

impl<'a> Endpoint<'a> {
    pub fn host(mut self, h: &'a str) -> Self {
        self.hostname = Some(h);
        self
    }
    pub fn pod(mut self, p: &'a str) -> Self {
        self.pod = Some(p);
        self
    }
    pub fn zone(mut self, z: &'a str) -> Self {
        self.zone = Some(z);
        self
    }
    pub fn not_ready(mut self) -> Self {
        self.ready = false;
        self
    }

    fn json(&self) -> String {
        let mut fields = vec![format!(r#""addresses":{}"#, list(self.ips))];
        fields.push(format!(r#""conditions":{{"ready":{}}}"#, self.ready));
        if let Some(h) = self.hostname {
            fields.push(format!(r#""hostname":"{h}""#));
        }
        if let Some(p) = self.pod {
            fields.push(format!(r#""targetRef":{{"kind":"Pod","name":"{p}"}}"#));
        }
        if let Some(z) = self.zone {
            fields.push(format!(r#""zone":"{z}""#));
        }
        format!("{{{}}}", fields.join(","))
    }
}

pub fn slice(namespace: &str, name: &str, service: &str, endpoints: &[Endpoint], port_specs: &[&str]) -> Event {
    let family = if endpoints.iter().any(|e| e.ips.iter().any(|ip| ip.contains(':'))) { "IPv6" } else { "IPv4" };
    let eps: Vec<String> = endpoints.iter().map(Endpoint::json).collect();
    upsert(
        Kind::EndpointSlice,
        format!(
            r#"{{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
               "metadata":{{"name":"{name}","namespace":"{namespace}","labels":{{"kubernetes.io/service-name":"{service}"}}}},
               "addressType":"{family}","endpoints":[{}],"ports":{}}}"#,
            eps.join(","),
            ports(port_specs)
        ),
    )
}

pub fn pod(namespace: &str, name: &str, ips: &[&str]) -> Event {
    let ips: Vec<String> = ips.iter().map(|ip| format!(r#"{{"ip":"{ip}"}}"#)).collect();
    upsert(
        Kind::Pod,
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"{namespace}","labels":{{"app":"{name}"}}}},
               "status":{{"phase":"Running","podIPs":[{}]}}}}"#,
            ips.join(",")
        ),
    )
}

pub fn service_import(namespace: &str, name: &str, headless: bool, ips: &[&str], port_specs: &[&str]) -> Event {
    let kind = if headless { "Headless" } else { "ClusterSetIP" };
    upsert(
        Kind::ServiceImport,
        format!(
            r#"{{"apiVersion":"multicluster.x-k8s.io/v1alpha1","kind":"ServiceImport",
               "metadata":{{"name":"{name}","namespace":"{namespace}"}},
               "spec":{{"type":"{kind}","ips":{},"ports":{}}}}}"#,
            list(ips),
            ports(port_specs)
        ),
    )
}

pub fn mc_slice(
    namespace: &str,
    name: &str,
    service: &str,
    cluster: &str,
    endpoints: &[Endpoint],
    port_specs: &[&str],
) -> Event {
    let eps: Vec<String> = endpoints.iter().map(Endpoint::json).collect();
    upsert(
        Kind::EndpointSlice,
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"{namespace}","labels":{{
                 "multicluster.kubernetes.io/service-name":"{service}",
                 "multicluster.kubernetes.io/source-cluster":"{cluster}"}}}},
               "addressType":"IPv4","endpoints":[{}],"ports":{}}}"#,
            eps.join(","),
            ports(port_specs)
        ),
    )
}

/// The main test cluster ("alpha").
pub fn alpha() -> Vec<Event> {
    vec![
        namespace("shop"),
        namespace("kube-system"),
        namespace("quiet"),
        cluster_ip("shop", "web", &["10.96.0.10", "fd00::10"], &["http:80/TCP", "dns:53/UDP"]),
        slice("shop", "web-a", "web", &[ep(&["10.1.0.10"]), ep(&["10.1.0.11"]).host("web-1")], &["http:8080/TCP"]),
        headless("shop", "db", &["pg:5432/TCP"]),
        slice(
            "shop",
            "db-b",
            "db",
            &[ep(&["10.1.0.4"]).pod("db-2-pod"), ep(&["10.1.0.5"]).not_ready()],
            &["pg:5432/TCP"],
        ),
        slice(
            "shop",
            "db-a",
            "db",
            &[ep(&["10.1.0.1"]).host("db-0"), ep(&["10.1.0.2"]).pod("db-1-pod")],
            &["pg:5432/TCP"],
        ),
        slice("shop", "db-v6", "db", &[ep(&["fd01::1"]).host("db-0")], &["pg:5432/TCP"]),
        external("shop", "ext", "www.example.org"),
        external("shop", "alias", "web.shop.svc.cluster.local"),
        external("shop", "ipext", "192.0.2.10"),
        cluster_ip("shop", "empty", &["10.96.0.20"], &["http:80/TCP"]),
        headless("shop", "nobody", &["http:80/TCP"]),
        cluster_ip("kube-system", "kube-dns", &["10.96.0.53"], &["dns:53/UDP", "dns-tcp:53/TCP"]),
        slice("kube-system", "kube-dns-x", "kube-dns", &[ep(&["10.1.1.53"])], &["dns:53/UDP", "dns-tcp:53/TCP"]),
        pod("shop", "web-pod", &["10.1.0.10"]),
        // Objects in a namespace that does not exist are never served.
        cluster_ip("ghost", "web", &["10.96.9.9"], &["http:80/TCP"]),
    ]
}

/// A second cluster ("beta") serving the same zone.
pub fn beta() -> Vec<Event> {
    vec![
        namespace("shop"),
        cluster_ip("shop", "web", &["10.97.0.10"], &["http:80/TCP"]),
        cluster_ip("shop", "only-beta", &["10.97.0.5"], &["http:80/TCP"]),
        headless("shop", "db", &["pg:5432/TCP"]),
        slice("shop", "db-x", "db", &[ep(&["10.2.0.1"])], &["pg:5432/TCP"]),
    ]
}
