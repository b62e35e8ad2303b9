//! Which objects a stanza reads, decided once for both kinds of source: the
//! plan tells the host what to list and watch (the API server applies the
//! selectors), and every object the core is given passes the same test
//! again, so that a snapshot, which has no API server, is filtered exactly
//! as a watch would be.
//!
//! `labels` selects Services, EndpointSlices and Pods; `namespace_labels`
//! selects Namespaces and, as in the kubernetes plugin, ServiceImports.
//! Pods that are done (Succeeded, Failed) or in an Unknown phase are not
//! listed. EndpointSlices come as one kind: a slice labelled with a
//! multi-cluster service name belongs to that imported service (with
//! `multicluster`), and to its cluster's own service unless it has no
//! service name label of its own.

use std::collections::BTreeMap;

use crate::contract::{Kind, Watch};
use crate::options::selector::Selector;
use crate::options::{PodMode, StanzaConfig};

use super::objects::{MC_SERVICE_NAME_LABEL, SERVICE_NAME_LABEL};

/// The field selector for pods, and the phases it leaves out.
const LIVE_PODS: &str = "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown";
const FINISHED_PHASES: [&str; 3] = ["Succeeded", "Failed", "Unknown"];

/// Every kind, in the order watches are listed.
const KINDS: [Kind; 5] = [Kind::Namespace, Kind::Service, Kind::EndpointSlice, Kind::Pod, Kind::ServiceImport];

/// A stanza's selection.
#[derive(Debug, Clone)]
pub struct Selection {
    labels: Option<Selector>,
    namespace_labels: Option<Selector>,
    /// The cluster's own EndpointSlices (not `noendpoints`).
    endpoints: bool,
    /// Pods (`pods verified`).
    pods: bool,
    /// ServiceImports and their EndpointSlices (`multicluster`).
    multicluster: bool,
}

/// The sets an EndpointSlice belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceSets {
    /// The cluster's own slices.
    pub local: bool,
    /// The slices of imported multi-cluster services.
    pub imported: bool,
}

impl Selection {
    pub fn new(config: &StanzaConfig) -> Selection {
        Selection {
            labels: config.labels.clone(),
            namespace_labels: config.namespace_labels.clone(),
            endpoints: config.endpoints,
            pods: config.pods == PodMode::Verified,
            multicluster: !config.multicluster.is_empty(),
        }
    }

    /// Every kind, every object: for tests of what is done with objects
    /// once selected.
    #[cfg(test)]
    pub fn all() -> Selection {
        Selection { labels: None, namespace_labels: None, endpoints: true, pods: true, multicluster: true }
    }

    /// Whether the stanza reads objects of this kind at all.
    pub fn reads(&self, kind: Kind) -> bool {
        match kind {
            Kind::Namespace | Kind::Service => true,
            Kind::EndpointSlice => self.endpoints || self.multicluster,
            Kind::Pod => self.pods,
            Kind::ServiceImport => self.multicluster,
        }
    }

    /// What the host lists and watches: one watch per kind read, with the
    /// selectors the API server applies.
    pub fn watches(&self) -> Vec<Watch> {
        KINDS
            .into_iter()
            .filter(|k| self.reads(*k))
            .map(|kind| {
                let label_selector = match kind {
                    // Without the cluster's own slices, only imported ones.
                    Kind::EndpointSlice if !self.endpoints => {
                        Selector::and_exists(self.labels.as_ref(), MC_SERVICE_NAME_LABEL).to_string()
                    }
                    _ => text(self.selector(kind)),
                };
                let field_selector = if kind == Kind::Pod { LIVE_PODS.to_string() } else { String::new() };
                Watch { kind, label_selector, field_selector }
            })
            .collect()
    }

    fn selector(&self, kind: Kind) -> Option<&Selector> {
        match kind {
            Kind::Namespace | Kind::ServiceImport => self.namespace_labels.as_ref(),
            Kind::Service | Kind::EndpointSlice | Kind::Pod => self.labels.as_ref(),
        }
    }

    /// Whether an object of a kind the stanza reads, with these labels
    /// (and for a pod this phase), is one its watch would list.
    pub fn selects(&self, kind: Kind, labels: &BTreeMap<String, String>, phase: &str) -> bool {
        let live = kind != Kind::Pod || !FINISHED_PHASES.contains(&phase);
        live && self.selector(kind).is_none_or(|s| s.matches(labels))
    }

    /// The sets a selected EndpointSlice with these labels belongs to.
    pub fn slice_sets(&self, labels: &BTreeMap<String, String>) -> SliceSets {
        let imported = labels.contains_key(MC_SERVICE_NAME_LABEL);
        let own = labels.contains_key(SERVICE_NAME_LABEL);
        // A slice made only for an imported service is not a local one.
        SliceSets { local: self.endpoints && (own || !imported), imported: self.multicluster && imported }
    }
}

fn text(selector: Option<&Selector>) -> String {
    selector.map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(props: &[(&str, &[&str])]) -> Selection {
        let stanza = crate::options::stanza(&["cluster.local", "clusterset.local"], props);
        Selection::new(&crate::options::parse(&[stanza]).unwrap().stanzas[0])
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// (kind, label selector, field selector) of each watch.
    fn watches(props: &[(&str, &[&str])]) -> Vec<(Kind, String, String)> {
        selection(props).watches().into_iter().map(|w| (w.kind, w.label_selector, w.field_selector)).collect()
    }

    #[test]
    fn watches_follow_the_options() {
        let w = |k: Kind, l: &str, f: &str| (k, l.to_string(), f.to_string());
        let mc = "multicluster.kubernetes.io/service-name";
        type Case<'a> = (Vec<(&'a str, &'a [&'a str])>, Vec<(Kind, String, String)>);
        let cases: Vec<Case> = vec![
            (vec![], vec![w(Kind::Namespace, "", ""), w(Kind::Service, "", ""), w(Kind::EndpointSlice, "", "")]),
            (vec![("noendpoints", &[])], vec![w(Kind::Namespace, "", ""), w(Kind::Service, "", "")]),
            (
                vec![
                    ("labels", &["app", "in", "(web,", "db)"]),
                    ("namespace_labels", &["team=a"]),
                    ("pods", &["verified"]),
                ],
                vec![
                    w(Kind::Namespace, "team=a", ""),
                    w(Kind::Service, "app in (db,web)", ""),
                    w(Kind::EndpointSlice, "app in (db,web)", ""),
                    w(Kind::Pod, "app in (db,web)", LIVE_PODS),
                ],
            ),
            (
                vec![("multicluster", &["clusterset.local"]), ("namespace_labels", &["team=a"])],
                vec![
                    w(Kind::Namespace, "team=a", ""),
                    w(Kind::Service, "", ""),
                    w(Kind::EndpointSlice, "", ""),
                    w(Kind::ServiceImport, "team=a", ""),
                ],
            ),
            // One EndpointSlice watch: without the cluster's own slices, the
            // imported ones only.
            (
                vec![("multicluster", &["clusterset.local"]), ("noendpoints", &[]), ("labels", &["zone=a"])],
                vec![
                    w(Kind::Namespace, "", ""),
                    w(Kind::Service, "zone=a", ""),
                    w(Kind::EndpointSlice, &format!("{mc},zone=a"), ""),
                    w(Kind::ServiceImport, "", ""),
                ],
            ),
            (
                vec![("multicluster", &["clusterset.local"]), ("noendpoints", &[])],
                vec![
                    w(Kind::Namespace, "", ""),
                    w(Kind::Service, "", ""),
                    w(Kind::EndpointSlice, mc, ""),
                    w(Kind::ServiceImport, "", ""),
                ],
            ),
        ];
        for (props, want) in cases {
            assert_eq!(watches(&props), want, "{props:?}");
        }
    }

    #[test]
    fn selection_by_kind() {
        let s = selection(&[("labels", &["app=web"]), ("namespace_labels", &["team=a"]), ("pods", &["verified"])]);
        let web = labels(&[("app", "web")]);
        let team = labels(&[("team", "a")]);
        // (kind, labels, phase, selected)
        let cases: &[(Kind, &BTreeMap<String, String>, &str, bool)] = &[
            (Kind::Service, &web, "", true),
            (Kind::Service, &team, "", false),
            (Kind::EndpointSlice, &web, "", true),
            (Kind::EndpointSlice, &team, "", false),
            (Kind::Pod, &web, "Running", true),
            (Kind::Pod, &web, "", true),
            (Kind::Pod, &web, "Pending", true),
            (Kind::Pod, &web, "Succeeded", false),
            (Kind::Pod, &web, "Failed", false),
            (Kind::Pod, &web, "Unknown", false),
            (Kind::Pod, &team, "Running", false),
            (Kind::Namespace, &team, "", true),
            (Kind::Namespace, &web, "", false),
            (Kind::ServiceImport, &team, "", true),
            (Kind::ServiceImport, &web, "", false),
        ];
        for (kind, labels, phase, want) in cases {
            assert_eq!(s.selects(*kind, labels, phase), *want, "{kind:?} {labels:?} {phase}");
        }
        // Without selectors every object is selected, but finished pods.
        let all = selection(&[("pods", &["verified"])]);
        assert!(all.selects(Kind::Service, &labels(&[]), ""));
        assert!(!all.selects(Kind::Pod, &labels(&[]), "Failed"));
    }

    #[test]
    fn kinds_read() {
        let plain = selection(&[]);
        assert!(plain.reads(Kind::EndpointSlice) && !plain.reads(Kind::Pod) && !plain.reads(Kind::ServiceImport));
        let none = selection(&[("noendpoints", &[])]);
        assert!(!none.reads(Kind::EndpointSlice));
        let mc = selection(&[("noendpoints", &[]), ("multicluster", &["clusterset.local"])]);
        assert!(mc.reads(Kind::EndpointSlice) && mc.reads(Kind::ServiceImport));
    }

    #[test]
    fn slice_routing() {
        let own = labels(&[("kubernetes.io/service-name", "web")]);
        let imported = labels(&[("multicluster.kubernetes.io/service-name", "web")]);
        let both = labels(&[("kubernetes.io/service-name", "web"), ("multicluster.kubernetes.io/service-name", "web")]);
        let neither = labels(&[]);
        let sets = |local, imported| SliceSets { local, imported };
        // (options, [own, imported, both, neither])
        type Case<'a> = (Vec<(&'a str, &'a [&'a str])>, [SliceSets; 4]);
        let cases: Vec<Case> = vec![
            (vec![], [sets(true, false), sets(false, false), sets(true, false), sets(true, false)]),
            (
                vec![("multicluster", &["clusterset.local"])],
                [sets(true, false), sets(false, true), sets(true, true), sets(true, false)],
            ),
            (
                vec![("multicluster", &["clusterset.local"]), ("noendpoints", &[])],
                [sets(false, false), sets(false, true), sets(false, true), sets(false, false)],
            ),
        ];
        for (props, want) in cases {
            let s = selection(&props);
            let got = [&own, &imported, &both, &neither].map(|l| s.slice_sets(l));
            assert_eq!(got, want, "{props:?}");
        }
    }
}
