//! Stanza options: what each means, and which values are refused.
//!
//! Every property of a `kubernetai` block reaches the core. The core
//! interprets the DNS options; connection and source options belong to the
//! host, which validates their values, but the core still knows their
//! names so that one table decides what is an unknown property.

use std::collections::BTreeSet;

use crate::contract::{ConfigError, Kind, Plan, Property, StanzaInput};
use crate::dns::name::Name;
use crate::dns::reverse;

pub mod zones;

/// Answer TTL when `ttl` is not given, as the kubernetes plugin's.
pub const DEFAULT_TTL: u32 = 5;
const MAX_TTL: i64 = 3600;

/// Stanzas per server block: outcomes name the stanzas a query passed
/// through in a 64-bit set.
pub const MAX_STANZAS: usize = 64;

/// Properties the host interprets (connections, sources, the runtime).
pub const HOST_PROPERTIES: [&str; 15] = [
    "endpoint",
    "tls",
    "kubeconfig",
    "apiserver_qps",
    "apiserver_burst",
    "apiserver_max_inflight",
    "startup_timeout",
    "labels",
    "namespace_labels",
    "snapshot",
    "wasm",
    "pool",
    "wasm_timeout",
    "wasm_memory",
    "notify_interval",
];

/// How pod names (`a-b-c-d.ns.pod.zone`) are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodMode {
    Disabled,
    Insecure,
    Verified,
}

/// One stanza's DNS options, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaConfig {
    /// Lower-case zones, in Corefile order.
    pub zones: Vec<Name>,
    /// Index in `zones` of the first forward (non-reverse) zone: PTR
    /// targets live under it.
    pub primary: usize,
    /// Exposed namespaces; empty exposes all.
    pub namespaces: BTreeSet<String>,
    pub pods: PodMode,
    pub endpoint_pod_names: bool,
    pub ttl: u32,
    /// False with `noendpoints`.
    pub endpoints: bool,
    /// Zones whose misses go on down the chain; empty when off.
    pub fallthrough: Vec<Name>,
    pub ignore_empty_service: bool,
    pub multicluster: Vec<Name>,
    pub zonal: bool,
}

impl StanzaConfig {
    pub fn primary_zone(&self) -> &Name {
        &self.zones[self.primary]
    }

    /// Whether a miss for `name` falls through.
    pub fn falls_through(&self, name: &Name) -> bool {
        self.fallthrough.iter().any(|z| name.is_subdomain_of(z))
    }

    pub fn is_multicluster_zone(&self, zone: &Name) -> bool {
        self.multicluster.iter().any(|z| zone.is_subdomain_of(z))
    }

    /// Whether the stanza reads objects of this kind.
    pub fn watches(&self, kind: Kind) -> bool {
        match kind {
            Kind::Namespace | Kind::Service => true,
            Kind::EndpointSlice => self.endpoints,
            Kind::Pod => self.pods == PodMode::Verified,
            Kind::ServiceImport | Kind::MulticlusterEndpointSlice => !self.multicluster.is_empty(),
        }
    }

    /// What the host must watch for this stanza.
    pub fn plan(&self) -> Plan {
        let all = [
            Kind::Namespace,
            Kind::Service,
            Kind::EndpointSlice,
            Kind::Pod,
            Kind::ServiceImport,
            Kind::MulticlusterEndpointSlice,
        ];
        let kinds = all.into_iter().filter(|k| self.watches(*k)).collect();
        Plan { zones: self.zones.iter().map(Name::to_string).collect(), kinds }
    }
}

/// Validates every stanza.
pub fn parse(stanzas: &[StanzaInput]) -> Result<Vec<StanzaConfig>, ConfigError> {
    if stanzas.is_empty() {
        return Err(ConfigError { stanza: 0, line: 0, property: String::new(), reason: "no stanzas".into() });
    }
    if stanzas.len() > MAX_STANZAS {
        let last = &stanzas[MAX_STANZAS];
        let reason = format!("at most {MAX_STANZAS} kubernetai stanzas per server block");
        return Err(ConfigError { stanza: MAX_STANZAS as u32, line: last.line, property: String::new(), reason });
    }
    stanzas.iter().enumerate().map(|(i, s)| parse_stanza(i as u32, s)).collect()
}

fn parse_stanza(index: u32, input: &StanzaInput) -> Result<StanzaConfig, ConfigError> {
    let stanza_error =
        |reason: String| ConfigError { stanza: index, line: input.line, property: String::new(), reason };
    let mut zones = Vec::new();
    for zone in &input.zones {
        zones.extend(zones::normalize(zone).map_err(stanza_error)?);
    }
    if zones.is_empty() {
        return Err(stanza_error("no zones".into()));
    }
    let primary = zones
        .iter()
        .position(|z| !reverse::is_reverse(z) && !is_arpa_zone(z))
        .ok_or_else(|| stanza_error("non-reverse zone name must be used".into()))?;
    let mut config = StanzaConfig {
        zones,
        primary,
        namespaces: BTreeSet::new(),
        pods: PodMode::Disabled,
        endpoint_pod_names: false,
        ttl: DEFAULT_TTL,
        endpoints: true,
        fallthrough: Vec::new(),
        ignore_empty_service: false,
        multicluster: Vec::new(),
        zonal: false,
    };
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for property in &input.properties {
        let error = |reason: String| ConfigError {
            stanza: index,
            line: property.line,
            property: property.name.clone(),
            reason,
        };
        if property.name != "namespaces"
            && let Some((_, line)) = seen.iter().find(|(n, _)| *n == property.name)
        {
            return Err(error(format!("given more than once (first on line {line})")));
        }
        seen.push((&property.name, property.line));
        apply_property(&mut config, property).map_err(error)?;
    }
    let has = |name: &str| seen.iter().any(|(n, _)| *n == name);
    let whole = |property: &str, reason: &str| {
        let line = seen.iter().find(|(n, _)| *n == property).map_or(input.line, |(_, l)| *l);
        ConfigError { stanza: index, line, property: property.into(), reason: reason.into() }
    };
    if has("namespaces") && has("namespace_labels") {
        return Err(whole("namespace_labels", "namespaces and namespace_labels cannot both be set"));
    }
    if config.zonal && !config.endpoints {
        return Err(whole("zonal", "zonal requires the endpoint cache; remove noendpoints"));
    }
    Ok(config)
}

/// in-addr.arpa. and ip6.arpa. themselves: reverse zones too, though no
/// address is named by them.
fn is_arpa_zone(zone: &Name) -> bool {
    let text = zone.to_string();
    text == "in-addr.arpa." || text == "ip6.arpa." || text == "arpa."
}

fn apply_property(config: &mut StanzaConfig, p: &Property) -> Result<(), String> {
    match p.name.as_str() {
        "endpoint_pod_names" => flag(p).map(|()| config.endpoint_pod_names = true),
        "noendpoints" => flag(p).map(|()| config.endpoints = false),
        "zonal" => flag(p).map(|()| config.zonal = true),
        "pods" => {
            config.pods = match one(p)? {
                "disabled" => PodMode::Disabled,
                "insecure" => PodMode::Insecure,
                "verified" => PodMode::Verified,
                other => return Err(format!("wrong value {other:?}, must be one of: disabled, verified, insecure")),
            };
            Ok(())
        }
        "namespaces" => {
            if p.args.is_empty() {
                return Err("needs at least one namespace".into());
            }
            config.namespaces.extend(p.args.iter().cloned());
            Ok(())
        }
        "ttl" => {
            let value = one(p)?;
            let ttl = zones::parse_go_int(value).ok_or_else(|| format!("{value:?} is not an integer"))?;
            if !(0..=MAX_TTL).contains(&ttl) {
                return Err(format!("ttl must be in range [0, {MAX_TTL}]: {ttl}"));
            }
            config.ttl = ttl as u32;
            Ok(())
        }
        "fallthrough" => {
            config.fallthrough = if p.args.is_empty() { vec![Name::root()] } else { zone_args(&p.args)? };
            Ok(())
        }
        "ignore" => match one(p)? {
            "empty_service" => {
                config.ignore_empty_service = true;
                Ok(())
            }
            other => Err(format!("unable to parse ignore value: {other:?}")),
        },
        "multicluster" => {
            if p.args.is_empty() {
                return Err("needs at least one zone".into());
            }
            let zones = zone_args(&p.args)?;
            if let Some(z) = zones.iter().find(|z| !config.zones.contains(z)) {
                let all: Vec<String> = config.zones.iter().map(Name::to_string).collect();
                return Err(format!(
                    "is not authoritative for the multicluster zone {z} (authoritative zones: {})",
                    all.join(" ")
                ));
            }
            config.multicluster = zones;
            Ok(())
        }
        name if HOST_PROPERTIES.contains(&name) => Ok(()),
        name => Err(format!("unknown property {name:?}")),
    }
}

fn flag(p: &Property) -> Result<(), String> {
    if p.args.is_empty() { Ok(()) } else { Err(format!("takes no arguments, got {:?}", p.args.join(" "))) }
}

fn one(p: &Property) -> Result<&str, String> {
    match p.args.as_slice() {
        [value] => Ok(value),
        [] => Err("needs a value".into()),
        _ => Err(format!("takes one value, got {}: {:?}", p.args.len(), p.args.join(" "))),
    }
}

fn zone_args(args: &[String]) -> Result<Vec<Name>, String> {
    let mut out = Vec::new();
    for arg in args {
        out.extend(zones::normalize(arg)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(zones: &[&str], props: &[(&str, &[&str])]) -> StanzaInput {
        StanzaInput {
            zones: zones.iter().map(|z| z.to_string()).collect(),
            properties: props
                .iter()
                .enumerate()
                .map(|(i, (name, args))| Property {
                    name: name.to_string(),
                    args: args.iter().map(|a| a.to_string()).collect(),
                    line: 10 + i as u32,
                })
                .collect(),
            line: 9,
        }
    }

    fn parse_one(zones: &[&str], props: &[(&str, &[&str])]) -> Result<StanzaConfig, ConfigError> {
        parse(&[stanza(zones, props)]).map(|mut v| v.remove(0))
    }

    #[test]
    fn defaults() {
        let c = parse_one(&["cluster.local"], &[]).unwrap();
        assert_eq!(c.ttl, 5);
        assert_eq!(c.pods, PodMode::Disabled);
        assert!(c.endpoints && c.fallthrough.is_empty() && c.namespaces.is_empty());
        assert_eq!(c.plan().kinds, vec![Kind::Namespace, Kind::Service, Kind::EndpointSlice]);
        assert_eq!(c.plan().zones, vec!["cluster.local."]);
    }

    #[test]
    fn every_option() {
        let c = parse_one(
            &["cluster.local", "10.0.0.0/8", "remote.example"],
            &[
                ("endpoint", &["https://10.0.0.1:6443"]),
                ("tls", &["c", "k", "ca"]),
                ("kubeconfig", &["kc", "ctx"]),
                ("apiserver_qps", &["5"]),
                ("apiserver_burst", &["10"]),
                ("apiserver_max_inflight", &["3"]),
                ("startup_timeout", &["10s"]),
                ("labels", &["app=web"]),
                ("namespaces", &["a", "b"]),
                ("namespaces", &["c"]),
                ("pods", &["verified"]),
                ("endpoint_pod_names", &[]),
                ("ttl", &["0"]),
                ("fallthrough", &["in-addr.arpa"]),
                ("ignore", &["empty_service"]),
                ("multicluster", &["remote.example"]),
                ("zonal", &[]),
                ("snapshot", &["cluster.yaml"]),
                ("wasm", &["core.wasm"]),
                ("pool", &["4"]),
            ],
        )
        .unwrap();
        assert_eq!(c.zones.len(), 3);
        assert_eq!(c.primary_zone().to_string(), "cluster.local.");
        assert_eq!(c.namespaces.iter().cloned().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert_eq!((c.pods, c.endpoint_pod_names, c.ttl), (PodMode::Verified, true, 0));
        assert_eq!(c.fallthrough, vec![Name::parse("in-addr.arpa").unwrap()]);
        assert!(c.ignore_empty_service && c.zonal);
        assert_eq!(c.multicluster, vec![Name::parse("remote.example").unwrap()]);
        let kinds = c.plan().kinds;
        assert!(kinds.contains(&Kind::Pod) && kinds.contains(&Kind::ServiceImport));
        assert!(kinds.contains(&Kind::MulticlusterEndpointSlice));
    }

    #[test]
    fn refused_configurations_name_the_property_and_reason() {
        // (zones, properties, property at fault, its line, reason)
        type Refused<'a> = (&'a [&'a str], &'a [(&'a str, &'a [&'a str])], &'a str, u32, &'a str);
        let cases: &[Refused] = &[
            (&["cluster.local"], &[("bogus", &[])], "bogus", 10, "unknown property \"bogus\""),
            (&["cluster.local"], &[("ttl", &["abc"])], "ttl", 10, "\"abc\" is not an integer"),
            (&["cluster.local"], &[("ttl", &["3601"])], "ttl", 10, "ttl must be in range [0, 3600]: 3601"),
            (&["cluster.local"], &[("ttl", &["-1"])], "ttl", 10, "ttl must be in range [0, 3600]: -1"),
            (&["cluster.local"], &[("ttl", &[])], "ttl", 10, "needs a value"),
            (&["cluster.local"], &[("ttl", &["1", "2"])], "ttl", 10, "takes one value, got 2: \"1 2\""),
            (&["cluster.local"], &[("pods", &["maybe"])], "pods", 10, "wrong value \"maybe\""),
            (&["cluster.local"], &[("noendpoints", &["x"])], "noendpoints", 10, "takes no arguments"),
            (&["cluster.local"], &[("ignore", &["foo"])], "ignore", 10, "unable to parse ignore value: \"foo\""),
            (&["cluster.local"], &[("ignore", &[])], "ignore", 10, "needs a value"),
            (&["cluster.local"], &[("namespaces", &[])], "namespaces", 10, "needs at least one namespace"),
            (
                &["cluster.local"],
                &[("ttl", &["5"]), ("ttl", &["6"])],
                "ttl",
                11,
                "given more than once (first on line 10)",
            ),
            (
                &["cluster.local"],
                &[("multicluster", &["clusterset.local"])],
                "multicluster",
                10,
                "is not authoritative for the multicluster zone clusterset.local.",
            ),
            (&["cluster.local"], &[("multicluster", &[])], "multicluster", 10, "needs at least one zone"),
            (&["cluster.local"], &[("fallthrough", &["a..b"])], "fallthrough", 10, "not a valid domain name"),
            (
                &["cluster.local"],
                &[("namespaces", &["a"]), ("namespace_labels", &["x=y"])],
                "namespace_labels",
                11,
                "namespaces and namespace_labels cannot both be set",
            ),
            (
                &["cluster.local"],
                &[("zonal", &[]), ("noendpoints", &[])],
                "zonal",
                10,
                "zonal requires the endpoint cache; remove noendpoints",
            ),
            (&["10.0.0.0/8"], &[], "", 9, "non-reverse zone name must be used"),
            (&["in-addr.arpa"], &[], "", 9, "non-reverse zone name must be used"),
            (&["bad..zone"], &[], "", 9, "not a valid domain name"),
        ];
        for (zones, props, property, line, reason) in cases {
            let err = parse_one(zones, props).unwrap_err();
            assert_eq!(err.property, *property, "{props:?}");
            assert_eq!(err.line, *line, "{props:?}");
            assert!(err.reason.contains(reason), "{props:?}: {} does not contain {reason}", err.reason);
        }
    }

    #[test]
    fn errors_name_the_stanza() {
        let err = parse(&[stanza(&["a.local"], &[]), stanza(&["b.local"], &[("pods", &[])])]).unwrap_err();
        assert_eq!(err.stanza, 1);
        assert_eq!(err.to_string(), "stanza 2 (line 10): pods: needs a value");
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn noendpoints_drops_endpoint_slices_from_the_plan() {
        let c = parse_one(&["cluster.local"], &[("noendpoints", &[])]).unwrap();
        assert!(!c.endpoints);
        assert_eq!(c.plan().kinds, vec![Kind::Namespace, Kind::Service]);
        assert!(!c.watches(Kind::EndpointSlice));
        // Only the local slices: multicluster ones follow `multicluster`.
        let c = parse_one(
            &["cluster.local", "clusterset.local"],
            &[("noendpoints", &[]), ("pods", &["verified"]), ("multicluster", &["clusterset.local"])],
        )
        .unwrap();
        assert_eq!(
            c.plan().kinds,
            vec![Kind::Namespace, Kind::Service, Kind::Pod, Kind::ServiceImport, Kind::MulticlusterEndpointSlice]
        );
    }

    #[test]
    fn fallthrough_without_zones_covers_everything() {
        let c = parse_one(&["cluster.local"], &[("fallthrough", &[])]).unwrap();
        assert!(c.falls_through(&Name::parse("x.cluster.local").unwrap()));
        let c = parse_one(&["cluster.local", "in-addr.arpa"], &[("fallthrough", &["in-addr.arpa"])]).unwrap();
        assert!(!c.falls_through(&Name::parse("x.cluster.local").unwrap()));
        assert!(c.falls_through(&Name::parse("1.0.0.10.in-addr.arpa").unwrap()));
    }
}
