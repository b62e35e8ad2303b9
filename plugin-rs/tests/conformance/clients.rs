//! What depends on the client: autopath search lists and metadata values.

use super::{Core, Scenario, fixture};

fn verified() -> Scenario {
    Scenario::new()
        .stanza(&["cluster.local"], &[("pods", &["verified"])], fixture::alpha())
        .stanza(
            &["remote.local", "clusterset.local"],
            &[("pods", &["verified"]), ("zonal", &[]), ("multicluster", &["clusterset.local"])],
            {
                let mut beta = fixture::beta();
                beta.push(fixture::pod("shop", "beta-pod", &["10.2.0.9"]));
                beta
            },
        )
        .search(&["corp.example", "example.org."])
}

fn insecure() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("pods", &["insecure"])], fixture::alpha())
}

/// (scenario, qname, client, expected search list joined by spaces, or None)
type AutopathCase = (fn() -> Scenario, &'static str, &'static str, Option<&'static str>);

const AUTOPATH: &[AutopathCase] = &[
    (
        verified,
        "web.shop.svc.cluster.local.",
        "10.1.0.10",
        Some("shop.svc.cluster.local. svc.cluster.local. cluster.local. corp.example. example.org. ''"),
    ),
    // The pod is known only to the second stanza, which holds the name.
    (
        verified,
        "web.remote.local.",
        "10.2.0.9",
        Some("shop.svc.remote.local. svc.remote.local. remote.local. corp.example. example.org. ''"),
    ),
    // The first stanza knows the pod but does not hold the name.
    (verified, "web.remote.local.", "10.1.0.10", None),
    (verified, "web.shop.svc.cluster.local.", "10.9.9.9", None),
    (verified, "www.example.org.", "10.1.0.10", None),
    (insecure, "web.shop.svc.cluster.local.", "10.1.0.10", None),
];

/// (scenario, qname, client, expected key=value lines)
type MetadataCase = (fn() -> Scenario, &'static str, &'static str, &'static str);

const METADATA: &[MetadataCase] = &[
    (
        verified,
        "web.shop.svc.cluster.local.",
        "10.1.0.10",
        "kubernetes/client-namespace=shop kubernetes/client-pod-name=web-pod kubernetes/client-label/app=web-pod \
         kubernetai/stanza=1 kubernetes/port-name= kubernetes/protocol= kubernetes/endpoint= \
         kubernetes/service=web kubernetes/namespace=shop kubernetes/kind=svc",
    ),
    (
        verified,
        "_HTTP._tcp.web.shop.svc.cluster.local.",
        "10.9.9.9",
        "kubernetai/stanza=1 kubernetes/port-name=http kubernetes/protocol=tcp kubernetes/endpoint= \
         kubernetes/service=web kubernetes/namespace=shop kubernetes/kind=svc",
    ),
    (
        verified,
        "a.b.c.web.shop.svc.cluster.local.",
        "10.9.9.9",
        "kubernetai/stanza=1 kubernetes/parse-error=invalid query name",
    ),
    (
        verified,
        "10-1-0-10.shop.pod.cluster.local.",
        "10.9.9.9",
        "kubernetai/stanza=1 kubernetes/port-name= kubernetes/protocol= kubernetes/endpoint= \
         kubernetes/service=10-1-0-10 kubernetes/namespace=shop kubernetes/kind=pod",
    ),
    // Zonal stanzas publish the zone, multicluster zones the cluster.
    (
        verified,
        "zone-a.pin._zone.db.shop.svc.remote.local.",
        "10.2.0.9",
        "kubernetes/client-namespace=shop kubernetes/client-pod-name=beta-pod kubernetes/client-label/app=beta-pod \
         kubernetai/stanza=2 kubernetes/port-name= kubernetes/protocol= kubernetes/endpoint= kubernetes/zone=zone-a \
         kubernetes/service=db kubernetes/namespace=shop kubernetes/kind=svc",
    ),
    (
        verified,
        "db-0.east.db.shop.svc.clusterset.local.",
        "10.9.9.9",
        "kubernetai/stanza=2 kubernetes/port-name= kubernetes/protocol= kubernetes/endpoint=db-0 \
         kubernetes/cluster=east kubernetes/zone= kubernetes/service=db kubernetes/namespace=shop kubernetes/kind=svc",
    ),
    (verified, "www.example.org.", "10.9.9.9", ""),
    // Without `pods verified` the client's pod is unknown.
    (
        insecure,
        "shop.svc.cluster.local.",
        "10.1.0.10",
        "kubernetai/stanza=1 kubernetes/port-name= kubernetes/protocol= kubernetes/endpoint= \
         kubernetes/service= kubernetes/namespace=shop kubernetes/kind=svc",
    ),
];

pub fn run(new_core: &dyn Fn() -> Box<dyn Core>) -> Vec<String> {
    let mut failures = Vec::new();
    for (scenario, qname, client, want) in AUTOPATH {
        let mut core = new_core();
        scenario().load(core.as_mut());
        let got = core.autopath(qname, client).map(|list| {
            list.iter().map(|s| if s.is_empty() { "''".to_string() } else { s.clone() }).collect::<Vec<_>>().join(" ")
        });
        if got.as_deref() != *want {
            failures.push(format!("[autopath] {qname} from {client}\n--- want\n{want:?}\n--- got\n{got:?}\n"));
        }
    }
    for (scenario, qname, client, want) in METADATA {
        let mut core = new_core();
        scenario().load(core.as_mut());
        let got: Vec<String> =
            core.metadata(qname, client).into_iter().map(|e| format!("{}={}", e.key, e.value)).collect();
        let want: Vec<&str> =
            if want.is_empty() { vec![] } else { want.split(' ').filter(|s| !s.is_empty()).collect() };
        // Values may hold spaces; compare the joined forms.
        if got.join(" ") != want.join(" ") {
            failures.push(format!(
                "[metadata] {qname} from {client}\n--- want\n{}\n--- got\n{}\n",
                want.join("\n"),
                got.join("\n")
            ));
        }
    }
    failures
}
