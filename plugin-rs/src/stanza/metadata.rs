//! Values for CoreDNS's metadata plugin, as the kubernetes plugin
//! publishes them: the parts of the query name (`kubernetes/service`,
//! `kubernetes/namespace`, ...) and, with `pods verified`, the client's pod
//! (`kubernetes/client-namespace`, `kubernetes/client-pod-name`,
//! `kubernetes/client-label/<label>`).

use std::net::IpAddr;

use super::Stanza;
use super::grammar::{self, Tree};
use crate::contract::MetadataEntry;
use crate::dns::name::Name;
use crate::options::PodMode;

fn entry(key: &str, value: impl Into<String>) -> MetadataEntry {
    MetadataEntry { key: key.into(), value: value.into() }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Stanza {
    /// The client's pod, when the stanza watches pods and knows one there.
    pub fn client_entries(&self, client: &IpAddr) -> Option<Vec<MetadataEntry>> {
        if self.config.pods != PodMode::Verified {
            return None;
        }
        let (namespace, name) = self.index.pods_at(client).first()?;
        let pod = self.index.namespace(namespace)?.pod(name)?;
        let mut out =
            vec![entry("kubernetes/client-namespace", &**namespace), entry("kubernetes/client-pod-name", &**name)];
        for (k, v) in &pod.labels {
            out.push(entry(&format!("kubernetes/client-label/{k}"), &**v));
        }
        Some(out)
    }

    /// The parts of `qname` (lower-cased), when the stanza's zones hold it.
    /// The plugin never published `kubernetes/cluster`: it tested the
    /// multicluster zones before knowing the zone. Here it is published in
    /// multicluster zones.
    pub fn name_entries(&self, qname: &Name) -> Option<Vec<MetadataEntry>> {
        let zone = self.config_zone_of(qname)?;
        let end = qname.suffix_start(zone)?;
        let base: Vec<&[u8]> = qname.labels_before(end).collect();
        let multicluster = self.config.is_multicluster_zone(zone);
        let Ok(r) = grammar::parse(&base, multicluster, self.config.zonal) else {
            return Some(vec![entry("kubernetes/parse-error", "invalid query name")]);
        };
        let mut out = vec![
            entry("kubernetes/port-name", text(r.port)),
            entry("kubernetes/protocol", text(r.protocol)),
            entry("kubernetes/endpoint", text(r.endpoint)),
        ];
        if multicluster {
            out.push(entry("kubernetes/cluster", text(r.cluster)));
        }
        if self.config.zonal {
            out.push(entry("kubernetes/zone", text(&r.topology)));
        }
        let kind = match r.tree {
            Tree::Svc => "svc",
            Tree::Pod => "pod",
            Tree::None => "",
        };
        out.extend([
            entry("kubernetes/service", text(r.service)),
            entry("kubernetes/namespace", text(r.namespace)),
            entry("kubernetes/kind", kind),
        ]);
        Some(out)
    }
}
