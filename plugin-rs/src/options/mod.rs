//! The Corefile's options: what each means, and which values are refused.
//!
//! Every option line of a `kubernetai` block reaches the core, the host's
//! own options (sources, connections, the runtime) included: one table
//! (`table`) knows every option, where it may be given and how often, and
//! how its arguments read; the core hands the host back what it needs,
//! validated and typed, in the configuration. Durations read as Go reads
//! them (`duration`), sizes as README documents them (`size`), label
//! selectors as the kubernetes plugin reads them (`selector`), zones as
//! CoreDNS normalises them (`zones`).

use crate::contract::{ConfigError, Runtime, Stanza as StanzaInput};
use crate::dns::{Name, reverse};

mod args;
mod config;
pub mod duration;
pub mod selector;
pub mod size;
mod source;
mod table;
pub mod zones;

use table::{Scope, Target};

pub use config::{DEFAULT_TTL, Options, PodMode, StanzaConfig};
pub use table::TABLE;

/// Stanzas per server block: outcomes name the stanzas a query passed
/// through in a 64-bit set.
pub const MAX_STANZAS: usize = 64;

/// A stanza as the host sends it, for tests: the stanza on line 9, its
/// properties on lines 10, 11, ...
#[cfg(test)]
pub fn stanza(zones: &[&str], props: &[(&str, &[&str])]) -> StanzaInput {
    StanzaInput {
        zones: zones.iter().map(|z| z.to_string()).collect(),
        properties: props
            .iter()
            .enumerate()
            .map(|(i, (name, args))| crate::contract::Property {
                name: name.to_string(),
                args: args.iter().map(|a| a.to_string()).collect(),
                line: 10 + i as u32,
            })
            .collect(),
        line: 9,
    }
}

/// Validates every stanza and the server block's runtime options.
pub fn parse(stanzas: &[StanzaInput]) -> Result<Options, ConfigError> {
    if stanzas.is_empty() {
        return Err(ConfigError { stanza: 0, line: 0, property: String::new(), reason: "no stanzas".into() });
    }
    if stanzas.len() > MAX_STANZAS {
        let last = &stanzas[MAX_STANZAS];
        let reason = format!("at most {MAX_STANZAS} kubernetai stanzas per server block");
        return Err(ConfigError { stanza: MAX_STANZAS as u32, line: last.line, property: String::new(), reason });
    }
    let mut runtime = config::default_runtime();
    let mut server_options = Vec::new();
    let configs = stanzas
        .iter()
        .enumerate()
        .map(|(i, s)| parse_stanza(i as u32, s, &mut runtime, &mut server_options))
        .collect::<Result<Vec<_>, _>>()?;
    unique_clusters(stanzas, &configs)?;
    clusterset_members(stanzas, &configs)?;
    Ok(Options { stanzas: configs, runtime })
}

/// Refuses a `cluster` name given to two stanzas: it is what tells their
/// metrics apart.
fn unique_clusters(inputs: &[StanzaInput], stanzas: &[StanzaConfig]) -> Result<(), ConfigError> {
    for (i, s) in stanzas.iter().enumerate() {
        let Some(name) = &s.cluster else { continue };
        if let Some(first) = stanzas[..i].iter().position(|o| o.cluster.as_ref() == Some(name)) {
            let line =
                |k: usize| inputs[k].properties.iter().find(|p| p.name == "cluster").map_or(inputs[k].line, |p| p.line);
            return Err(ConfigError {
                stanza: i as u32,
                line: line(i),
                property: "cluster".into(),
                reason: format!("{name:?} is already the name of stanza {} (line {})", first + 1, line(first)),
            });
        }
    }
    Ok(())
}

/// Refuses a `clusterset` member without a usable `cluster` name (its
/// names are `SERVICE.NAMESPACE.svc.CLUSTER.ZONE`, so `svc` and `pod`
/// would read as the kubernetes plugin's own), and a set zone the stanza
/// also serves as `multicluster`.
fn clusterset_members(inputs: &[StanzaInput], stanzas: &[StanzaConfig]) -> Result<(), ConfigError> {
    for (i, s) in stanzas.iter().enumerate() {
        if s.clusterset.is_empty() {
            continue;
        }
        let line = |name: &str| inputs[i].properties.iter().find(|p| p.name == name).map_or(inputs[i].line, |p| p.line);
        let error = |reason: String| ConfigError {
            stanza: i as u32,
            line: line("clusterset"),
            property: "clusterset".into(),
            reason,
        };
        match s.cluster.as_deref() {
            None => {
                return Err(error(
                    "a member of a cluster set needs `cluster NAME`: it names the member's own copy of each name"
                        .into(),
                ));
            }
            Some(name @ ("svc" | "pod")) => {
                return Err(error(format!(
                    "the cluster name {name:?} cannot be a member's: {name}.ZONE already has a meaning"
                )));
            }
            Some(_) => {}
        }
        if let Some(z) = s.clusterset.iter().find(|z| s.multicluster.contains(z)) {
            return Err(error(format!(
                "{z} is a multicluster zone: its names already come from every cluster's ServiceImports"
            )));
        }
    }
    Ok(())
}

/// Validates one stanza. `server_options` are the server-wide options
/// given so far in the server block, with their lines.
fn parse_stanza(
    index: u32,
    input: &StanzaInput,
    runtime: &mut Runtime,
    server_options: &mut Vec<(&'static str, u32)>,
) -> Result<StanzaConfig, ConfigError> {
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
    let mut config = StanzaConfig::new(zones, primary);
    let mut source = source::SourceOptions::default();
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for property in &input.properties {
        let error = |reason: String| ConfigError {
            stanza: index,
            line: property.line,
            property: property.name.clone(),
            reason,
        };
        let spec = table::find(&property.name).ok_or_else(|| error(format!("unknown property {:?}", property.name)))?;
        let first = |given: &[(&str, u32)]| given.iter().find(|(n, _)| *n == spec.name).map(|(_, line)| *line);
        match spec.scope {
            Scope::Stanza => {
                if let Some(line) = first(&seen) {
                    return Err(error(format!("given more than once (first on line {line})")));
                }
            }
            Scope::Server => {
                if let Some(line) = first(server_options) {
                    return Err(error(format!("given more than once in this server block (first on line {line})")));
                }
                server_options.push((spec.name, property.line));
            }
            Scope::Repeatable => {}
        }
        seen.push((spec.name, property.line));
        let mut target = Target { stanza: &mut config, source: &mut source, runtime };
        (spec.read)(&mut target, property).map_err(error)?;
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
    (config.source, config.source_line) = source
        .finish(input.line)
        .map_err(|(property, line, reason)| ConfigError { stanza: index, line, property, reason })?;
    Ok(config)
}

/// in-addr.arpa. and ip6.arpa. themselves: reverse zones too, though no
/// address is named by them.
fn is_arpa_zone(zone: &Name) -> bool {
    let text = zone.to_string();
    text == "in-addr.arpa." || text == "ip6.arpa." || text == "arpa."
}

#[cfg(test)]
mod tests {
    use super::duration::Duration;
    use super::*;
    use crate::contract::{Connection, Source};

    fn parse_one(zones: &[&str], props: &[(&str, &[&str])]) -> Result<StanzaConfig, ConfigError> {
        parse(&[stanza(zones, props)]).map(|mut o| o.stanzas.remove(0))
    }

    #[test]
    fn defaults() {
        let c = parse_one(&["cluster.local"], &[]).unwrap();
        assert_eq!(c.ttl, 5);
        assert_eq!(c.pods, PodMode::Disabled);
        assert!(c.endpoints && c.fallthrough.is_empty() && c.namespaces.is_empty());
        assert_eq!(c.zones.iter().map(Name::to_string).collect::<Vec<_>>(), vec!["cluster.local."]);
        // What the stanza watches: see cluster::selection.
        assert_eq!((c.labels.as_ref(), c.namespace_labels.as_ref()), (None, None));
        assert_eq!(c.startup_timeout, Duration::from_secs(5));
        assert_eq!((c.source.clone(), c.source_line), (Source::ApiServer(in_cluster()), 9));
        let runtime = parse(&[stanza(&["cluster.local"], &[])]).unwrap().runtime;
        assert_eq!(
            runtime,
            Runtime {
                wasm: String::new(),
                wasm_line: 0,
                pool: 0,
                wasm_timeout_ns: 1_000_000_000,
                wasm_memory: 256 << 20,
                notify_interval_ns: 5_000_000_000,
            }
        );
    }

    fn in_cluster() -> Connection {
        Connection {
            endpoint: String::new(),
            ignored_endpoints: Vec::new(),
            tls: Vec::new(),
            kubeconfig: String::new(),
            context: String::new(),
            qps: 0.0,
            burst: 0,
            max_inflight: 0,
        }
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
        assert_eq!(c.labels.as_ref().map(ToString::to_string).as_deref(), Some("app=web"));
        assert_eq!(c.startup_timeout, Duration::from_secs(10));
        let connection = Connection {
            endpoint: "https://10.0.0.1:6443".into(),
            tls: vec!["c".into(), "k".into(), "ca".into()],
            kubeconfig: "kc".into(),
            context: "ctx".into(),
            qps: 5.0,
            burst: 10,
            max_inflight: 3,
            ..in_cluster()
        };
        // The source's line is the first connection option's.
        assert_eq!((c.source, c.source_line), (Source::ApiServer(connection), 10));
    }

    #[test]
    fn clusterset_zones() {
        let member = |zones: &[&str], set: &[&str]| {
            let c = parse_one(zones, &[("cluster", &["east"]), ("clusterset", set)]).unwrap();
            c.clusterset.iter().map(Name::to_string).collect::<Vec<_>>()
        };
        assert_eq!(member(&["cluster.local", "10.in-addr.arpa"], &[]), ["cluster.local.", "10.in-addr.arpa."]);
        assert_eq!(member(&["cluster.local", "remote.local"], &["Remote.Local"]), ["remote.local."]);
        assert!(parse_one(&["cluster.local"], &[]).unwrap().clusterset.is_empty(), "off by default");
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
            (
                &["cluster.local"],
                &[("clusterset", &[])],
                "clusterset",
                10,
                "a member of a cluster set needs `cluster NAME`",
            ),
            (
                &["cluster.local"],
                &[("cluster", &["svc"]), ("clusterset", &[])],
                "clusterset",
                11,
                "the cluster name \"svc\" cannot be a member's",
            ),
            (
                &["cluster.local"],
                &[("clusterset", &["other.local"]), ("cluster", &["east"])],
                "clusterset",
                10,
                "is not authoritative for the clusterset zone other.local.",
            ),
            (
                &["cluster.local"],
                &[("cluster", &["east"]), ("multicluster", &["cluster.local"]), ("clusterset", &[])],
                "clusterset",
                12,
                "cluster.local. is a multicluster zone",
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
        let shown = format!("stanza {} (line {}): {}: {}", err.stanza + 1, err.line, err.property, err.reason);
        assert!(shown.starts_with("stanza 2 (line 10): pods: needs a value"), "{shown}");
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn fallthrough_without_zones_covers_everything() {
        let c = parse_one(&["cluster.local"], &[("fallthrough", &[])]).unwrap();
        assert!(c.falls_through(&Name::parse("x.cluster.local").unwrap()));
        let c = parse_one(&["cluster.local", "in-addr.arpa"], &[("fallthrough", &["in-addr.arpa"])]).unwrap();
        assert!(!c.falls_through(&Name::parse("x.cluster.local").unwrap()));
        assert!(c.falls_through(&Name::parse("1.0.0.10.in-addr.arpa").unwrap()));
    }

    /// A value each option takes, for every option of the table: a new
    /// option without a row here fails this test.
    const EXAMPLES: &[(&str, &[&str])] = &[
        ("snapshot", &["cluster.yaml"]),
        ("namespaces", &["a", "b"]),
        ("labels", &["app", "in", "(web,", "db)"]),
        ("namespace_labels", &["team=a"]),
        ("pods", &["insecure"]),
        ("endpoint_pod_names", &[]),
        ("ttl", &["30"]),
        ("noendpoints", &[]),
        ("fallthrough", &[]),
        ("ignore", &["empty_service"]),
        ("multicluster", &["cluster.local"]),
        ("zonal", &[]),
        ("startup_timeout", &["1m30s"]),
        ("readiness", &["release"]),
        ("cluster", &["east-1"]),
        ("clusterset", &[]),
        ("endpoint", &["https://10.0.0.1:6443", "https://10.0.0.2:6443"]),
        ("tls", &["cert.pem", "key.pem", "ca.pem"]),
        ("kubeconfig", &["kubeconfig"]),
        ("apiserver_qps", &["2.5"]),
        ("apiserver_burst", &["7"]),
        ("apiserver_max_inflight", &["0"]),
        ("wasm", &["core.wasm"]),
        ("wasm_cache", &["/var/cache/kubernetai"]),
        ("wasm_shadow", &["next.wasm", "share", "0.25", "max_rate", "500", "promote_after", "10000"]),
        ("pool", &["3"]),
        ("wasm_timeout", &["250ms"]),
        ("wasm_memory", &["64Mi"]),
        ("notify_interval", &["1.5s"]),
    ];

    #[test]
    fn every_option_of_the_table_is_read() {
        let names: Vec<&str> = TABLE.iter().map(|s| s.name).collect();
        let examples: Vec<&str> = EXAMPLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, examples, "one example per option, in the table's order");
        for (name, args) in EXAMPLES {
            // A set member needs a name.
            let named: &[(&str, &[&str])] = if *name == "clusterset" { &[("cluster", &["east"])] } else { &[] };
            let props: Vec<(&str, &[&str])> = named.iter().copied().chain([(*name, *args)]).collect();
            assert!(parse_one(&["cluster.local"], &props).is_ok(), "{name} {args:?}");
        }
    }

    #[test]
    fn option_values() {
        let c = parse_one(&["cluster.local"], &[("snapshot", &["a.yaml"])]).unwrap();
        assert_eq!((c.source, c.source_line), (Source::Snapshot("a.yaml".into()), 10));
        let c =
            parse_one(&["cluster.local"], &[("ttl", &["1"]), ("endpoint", &["https://a:1", "https://b:2"])]).unwrap();
        let connection = Connection {
            endpoint: "https://a:1".into(),
            ignored_endpoints: vec!["https://b:2".into()],
            ..in_cluster()
        };
        assert_eq!((c.source, c.source_line), (Source::ApiServer(connection), 11));
        let c = parse_one(&["cluster.local"], &[("kubeconfig", &["kc"]), ("apiserver_qps", &["0.1"])]).unwrap();
        let connection = Connection { kubeconfig: "kc".into(), qps: f64::from(0.1f32), ..in_cluster() };
        assert_eq!(c.source, Source::ApiServer(connection));
        let c = parse_one(&["cluster.local"], &[("startup_timeout", &["0"])]).unwrap();
        assert_eq!(c.startup_timeout, Duration(0));
        let c = parse_one(&["cluster.local"], &[("namespace_labels", &["b=1,", "a"])]).unwrap();
        assert_eq!(c.namespace_labels.map(|s| s.to_string()).as_deref(), Some("a,b=1"));
        let runtime = parse(&[stanza(
            &["cluster.local"],
            &[
                ("wasm", &["core.wasm"]),
                ("pool", &["+3"]),
                ("wasm_timeout", &["1m"]),
                ("wasm_memory", &["4Gi"]),
                ("notify_interval", &["1ns"]),
            ],
        )])
        .unwrap()
        .runtime;
        assert_eq!(
            runtime,
            Runtime {
                wasm: "core.wasm".into(),
                wasm_line: 10,
                pool: 3,
                wasm_timeout_ns: 60_000_000_000,
                wasm_memory: 4 << 30,
                notify_interval_ns: 1,
            }
        );
    }

    #[test]
    fn refused_values_name_the_option_and_reason() {
        // (property and arguments, reason); the error names the property
        // at line 10.
        let cases: &[(&str, &[&str], &str)] = &[
            ("snapshot", &[], "needs a value: takes one value, got 0"),
            ("snapshot", &["a", "b"], "takes one value, got 2"),
            ("snapshot", &[""], "needs a file name, got an empty one"),
            ("startup_timeout", &["soon"], "\"soon\" is not a duration such as 5s"),
            ("startup_timeout", &["-1s"], "\"-1s\" is not a duration"),
            ("startup_timeout", &["5"], "\"5\" is not a duration"),
            ("readiness", &[], "needs a value"),
            ("readiness", &["wait"], "wrong value \"wait\", must be one of: hold, release"),
            ("readiness", &["hold", "release"], "takes one value, got 2"),
            ("cluster", &[], "needs a value"),
            ("cluster", &["East"], "\"East\" is not a cluster name: want one DNS label"),
            ("cluster", &["a.b"], "\"a.b\" is not a cluster name"),
            ("cluster", &["-a"], "\"-a\" is not a cluster name"),
            ("cluster", &["a-"], "\"a-\" is not a cluster name"),
            ("cluster", &[""], "\"\" is not a cluster name"),
            ("cluster", &["a123456789a123456789a123456789a123456789a123456789a123456789abcd"], "is not a cluster name"),
            ("cluster", &["2"], "\"2\" is not a cluster name: digits alone read as a stanza's position"),
            ("labels", &[], "needs a label selector"),
            ("labels", &[""], "needs a label selector"),
            ("labels", &["a", "in", "("], "unable to parse label selector \"a in (\""),
            ("labels", &["tier!=hidden"], "unable to parse label selector \"tier!=hidden\": \"!=\" is not a valid"),
            ("namespace_labels", &["==x"], "unable to parse"),
            ("namespace_labels", &[" "], "needs a label selector"),
            ("pool", &["0"], "\"0\" is not an integer >= 1"),
            ("pool", &["many"], "\"many\" is not an integer >= 1"),
            ("pool", &["4294967296"], "\"4294967296\" is out of range: at most 4294967295"),
            ("endpoint", &[], "needs a URL"),
            ("endpoint", &["::::"], "\"::::\" is not a URL with http:// or https:// and a host"),
            ("endpoint", &["10.0.0.1:6443"], "is not a URL with http:// or https://"),
            ("tls", &["a", "b"], "needs CERT KEY CACERT, got 2 values"),
            ("tls", &["a", "", "c"], "needs a file name, got an empty one"),
            ("kubeconfig", &[], "needs FILE [CONTEXT], got 0 values"),
            ("kubeconfig", &["a", "b", "c"], "needs FILE [CONTEXT], got 3 values"),
            ("apiserver_qps", &["-1"], "\"-1\" is not a number >= 0"),
            ("apiserver_qps", &["NaN"], "\"NaN\" is not a number >= 0"),
            ("apiserver_qps", &["inf"], "\"inf\" is not a number >= 0"),
            ("apiserver_qps", &["1e39"], "\"1e39\" is not a number >= 0"),
            ("apiserver_burst", &["x"], "\"x\" is not an integer >= 0"),
            ("apiserver_max_inflight", &["-2"], "\"-2\" is not an integer >= 0"),
            ("wasm", &[], "needs a value"),
            ("wasm", &[""], "needs a file name, got an empty one"),
            ("wasm_cache", &[], "needs a value"),
            ("wasm_cache", &[""], "needs a directory, got an empty name"),
            ("wasm_cache", &["a", "b"], "takes one value, got 2"),
            ("wasm_shadow", &[], "needs a module file: wasm_shadow PATH"),
            ("wasm_shadow", &[""], "needs a file name, got an empty one"),
            ("wasm_shadow", &["a.wasm", "share"], "\"share\" has no value"),
            ("wasm_shadow", &["a.wasm", "share", "0"], "share \"0\" is not a fraction greater than 0, at most 1"),
            ("wasm_shadow", &["a.wasm", "share", "1.5"], "share \"1.5\" is not a fraction"),
            ("wasm_shadow", &["a.wasm", "share", "NaN"], "share \"NaN\" is not a fraction"),
            ("wasm_shadow", &["a.wasm", "max_rate", "0"], "max_rate \"0\" is not an integer from 1 to 4294967295"),
            ("wasm_shadow", &["a.wasm", "promote_after", "x"], "promote_after \"x\" is not an integer"),
            ("wasm_shadow", &["a.wasm", "share", "1", "share", "1"], "share given more than once"),
            (
                "wasm_shadow",
                &["a.wasm", "rate", "1"],
                "unknown setting \"rate\", must be one of: share, max_rate, promote_after",
            ),
            ("wasm_timeout", &["soon"], "\"soon\" is not a duration such as 5s"),
            ("wasm_timeout", &["0s"], "0s is out of range: want between 1ms and 1m0s"),
            ("wasm_timeout", &["2h"], "2h0m0s is out of range"),
            ("wasm_timeout", &["999us"], "999\u{b5}s is out of range"),
            ("wasm_memory", &["lots"], "\"lots\" is not a size such as 64Mi or 256MiB"),
            ("wasm_memory", &["1Mi"], "\"1Mi\" is out of range: want between 4Mi and 4Gi"),
            ("wasm_memory", &["99999999999999999Gi"], "is out of range"),
            ("notify_interval", &["0s"], "must be longer than 0s"),
            ("notify_interval", &["-1s"], "\"-1s\" is not a duration"),
            ("fallthrough", &["10.0.0.0/33"], "invalid CIDR \"10.0.0.0/33\""),
            ("multicluster", &["10.0.0.0/33"], "invalid CIDR"),
        ];
        for (name, args, reason) in cases {
            let err = parse_one(&["cluster.local"], &[(*name, *args)]).unwrap_err();
            assert_eq!((err.property.as_str(), err.line), (*name, 10), "{name} {args:?}: {err:?}");
            assert!(err.reason.contains(reason), "{name} {args:?}: {} does not contain {reason}", err.reason);
        }
    }

    #[test]
    fn refused_stanzas_name_the_option_and_reason() {
        // (zones, properties, property at fault, its line, reason)
        type Refused<'a> = (&'a [&'a str], &'a [(&'a str, &'a [&'a str])], &'a str, u32, &'a str);
        let cases: &[Refused] = &[
            (&["10.0.0.0/33"], &[], "", 9, "invalid CIDR \"10.0.0.0/33\": the prefix length must be between 0 and 32"),
            (
                &["cluster.local"],
                &[("snapshot", &["a.yaml"]), ("endpoint", &["https://a"])],
                "endpoint",
                11,
                "a stanza reads either a snapshot or an API server, not both (snapshot on line 10)",
            ),
            (
                &["cluster.local"],
                &[("apiserver_burst", &["1"]), ("snapshot", &["a.yaml"])],
                "apiserver_burst",
                10,
                "not both (snapshot on line 11)",
            ),
            (
                &["cluster.local"],
                &[("labels", &["a"]), ("labels", &["b"])],
                "labels",
                11,
                "given more than once (first on line 10)",
            ),
            (
                &["cluster.local"],
                &[("readiness", &["hold"]), ("readiness", &["release"])],
                "readiness",
                11,
                "given more than once (first on line 10)",
            ),
            (
                &["cluster.local"],
                &[("wasm", &["a.wasm"]), ("wasm", &["b.wasm"])],
                "wasm",
                11,
                "given more than once in this server block (first on line 10)",
            ),
            (
                &["cluster.local"],
                &[("wasm_cache", &["/a"]), ("wasm_cache", &["/a"])],
                "wasm_cache",
                11,
                "given more than once in this server block (first on line 10)",
            ),
            (
                &["cluster.local"],
                &[("wasm_timeout", &["1s"]), ("wasm_timeout", &["2s"])],
                "wasm_timeout",
                11,
                "given more than once in this server block",
            ),
        ];
        for (zones, props, property, line, reason) in cases {
            let err = parse_one(zones, props).unwrap_err();
            assert_eq!((err.property.as_str(), err.line), (*property, *line), "{props:?}: {err:?}");
            assert!(err.reason.contains(reason), "{props:?}: {} does not contain {reason}", err.reason);
        }
    }

    #[test]
    fn cluster_names_are_unique() {
        let a = stanza(&["a.local"], &[("cluster", &["east"])]);
        let b = stanza(&["b.local"], &[("cluster", &["west"])]);
        let mut c = stanza(&["c.local"], &[("ttl", &["1"]), ("cluster", &["east"])]);
        c.properties[1].line = 30;
        let names = |o: Options| o.stanzas.into_iter().map(|s| s.cluster).collect::<Vec<_>>();
        let unnamed = stanza(&["d.local"], &[]);
        assert_eq!(
            names(parse(&[a.clone(), unnamed, b.clone()]).unwrap()),
            [Some("east".to_string()), None, Some("west".to_string())]
        );
        let err = parse(&[a, b, c]).unwrap_err();
        assert_eq!((err.stanza, err.line, err.property.as_str()), (2, 30, "cluster"));
        assert_eq!(err.reason, "\"east\" is already the name of stanza 1 (line 10)");
    }

    #[test]
    fn server_options_once_per_server_block() {
        let a = stanza(&["a.local"], &[("pool", &["2"]), ("wasm", &["x.wasm"])]);
        let mut b = stanza(&["b.local"], &[("wasm", &["y.wasm"])]);
        b.properties[0].line = 20;
        let err = parse(&[a.clone(), b]).unwrap_err();
        assert_eq!((err.stanza, err.line, err.property.as_str()), (1, 20, "wasm"));
        assert_eq!(err.reason, "given more than once in this server block (first on line 11)");
        // In any stanza: the runtime holds what the second one gave.
        let c = stanza(&["c.local"], &[("notify_interval", &["1s"])]);
        let options = parse(&[a, c]).unwrap();
        assert_eq!((options.runtime.pool, options.runtime.notify_interval_ns), (2, 1_000_000_000));
    }
}
