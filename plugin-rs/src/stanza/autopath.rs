//! Search paths for CoreDNS's autopath plugin (`autopath @kubernetai`).
//!
//! A pod's resolv.conf searches `<namespace>.svc.<zone>`, `svc.<zone>` and
//! `<zone>` before the node's domains; autopath walks that list on the
//! server so the pod's client asks once. The list needs the pod, so only
//! stanzas with `pods verified` know it.

use std::net::IpAddr;

use super::Stanza;
use crate::dns::name::Name;
use crate::options::PodMode;

impl Stanza {
    /// The stanza's own part of the search list for a query for `qname`
    /// from `client`: None unless the name is in its zones and a pod at
    /// `client` is known. Host-network pods share an address; the first
    /// (by namespace, then name) wins, as the plugin's first one does.
    pub fn search_path(&self, qname: &Name, client: &IpAddr) -> Option<Vec<String>> {
        if self.config.pods != PodMode::Verified {
            return None;
        }
        let zone = self.config_zone_of(qname)?;
        let (namespace, _) = self.index.pods_at(client).first()?;
        let zone = zone.to_string();
        let under = |prefix: &str| if zone == "." { format!("{prefix}.") } else { format!("{prefix}.{zone}") };
        Some(vec![under(&format!("{namespace}.svc")), under("svc"), zone.clone()])
    }
}
