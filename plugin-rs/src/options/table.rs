//! The one table of options: every option of a `kubernetai` block, where
//! it may be given and how often, and how its arguments are read. An
//! option not in this table is unknown; the host knows none of them by
//! name (it only finds `wasm PATH` and `wasm_cache DIR` before any core
//! runs, and each stanza's `readiness`, which only the host acts on).

use crate::contract::{Property, Runtime};

use super::args::{count, flag, go_int, one};
use super::config::{PodMode, StanzaConfig};
use super::duration::Duration;
use super::selector::Selector;
use super::source::SourceOptions;
use super::{size, zones};

/// Where an option may be given, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Once per stanza.
    Stanza,
    /// Any number of times per stanza (`namespaces`).
    Repeatable,
    /// Once per server block, in any of its stanzas.
    Server,
}

/// What an option's reader writes to.
pub struct Target<'a> {
    pub stanza: &'a mut StanzaConfig,
    pub source: &'a mut SourceOptions,
    pub runtime: &'a mut Runtime,
}

type Reader = fn(&mut Target, &Property) -> Result<(), String>;

/// One option.
pub struct Spec {
    pub name: &'static str,
    pub scope: Scope,
    pub read: Reader,
}

/// Bounds of `wasm_timeout`: a call shorter than a millisecond cannot be
/// told from a slow machine; a call longer than a minute holds a query's
/// instance longer than any client waits.
const MIN_WASM_TIMEOUT: Duration = Duration::from_millis(1);
const MAX_WASM_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds of `wasm_memory`: the core needs a few MiB of its own before any
/// object; wasm32 addresses 4 GiB at most.
const MIN_WASM_MEMORY: u64 = 4 << 20;
const MAX_WASM_MEMORY: u64 = 4 << 30;
/// Largest `ttl`, as the kubernetes plugin's.
const MAX_TTL: i64 = 3600;

/// Every option, in the README's order.
pub const TABLE: &[Spec] = &[
    Spec { name: "snapshot", scope: Scope::Stanza, read: |t, p| t.source.snapshot(p) },
    Spec { name: "namespaces", scope: Scope::Repeatable, read: namespaces },
    Spec { name: "labels", scope: Scope::Stanza, read: |t, p| selector(p).map(|s| t.stanza.labels = Some(s)) },
    Spec {
        name: "namespace_labels",
        scope: Scope::Stanza,
        read: |t, p| selector(p).map(|s| t.stanza.namespace_labels = Some(s)),
    },
    Spec { name: "pods", scope: Scope::Stanza, read: pods },
    Spec {
        name: "endpoint_pod_names",
        scope: Scope::Stanza,
        read: |t, p| flag(p).map(|()| t.stanza.endpoint_pod_names = true),
    },
    Spec { name: "ttl", scope: Scope::Stanza, read: ttl },
    Spec { name: "noendpoints", scope: Scope::Stanza, read: |t, p| flag(p).map(|()| t.stanza.endpoints = false) },
    Spec { name: "fallthrough", scope: Scope::Stanza, read: fallthrough },
    Spec { name: "ignore", scope: Scope::Stanza, read: ignore },
    Spec { name: "multicluster", scope: Scope::Stanza, read: multicluster },
    Spec { name: "zonal", scope: Scope::Stanza, read: |t, p| flag(p).map(|()| t.stanza.zonal = true) },
    Spec {
        name: "startup_timeout",
        scope: Scope::Stanza,
        read: |t, p| duration(p).map(|d| t.stanza.startup_timeout = d),
    },
    Spec { name: "readiness", scope: Scope::Stanza, read: readiness },
    Spec { name: "cluster", scope: Scope::Stanza, read: cluster },
    Spec { name: "clusterset", scope: Scope::Stanza, read: clusterset },
    Spec { name: "endpoint", scope: Scope::Stanza, read: |t, p| t.source.endpoint(p) },
    Spec { name: "tls", scope: Scope::Stanza, read: |t, p| t.source.tls(p) },
    Spec { name: "kubeconfig", scope: Scope::Stanza, read: |t, p| t.source.kubeconfig(p) },
    Spec { name: "apiserver_qps", scope: Scope::Stanza, read: |t, p| t.source.qps(p) },
    Spec { name: "apiserver_burst", scope: Scope::Stanza, read: |t, p| t.source.burst(p) },
    Spec { name: "apiserver_max_inflight", scope: Scope::Stanza, read: |t, p| t.source.max_inflight(p) },
    Spec { name: "wasm", scope: Scope::Server, read: wasm },
    Spec { name: "wasm_cache", scope: Scope::Server, read: wasm_cache },
    Spec { name: "wasm_shadow", scope: Scope::Server, read: wasm_shadow },
    Spec { name: "pool", scope: Scope::Server, read: |t, p| count(p, 1).map(|n| t.runtime.pool = n) },
    Spec { name: "wasm_timeout", scope: Scope::Server, read: wasm_timeout },
    Spec { name: "wasm_memory", scope: Scope::Server, read: wasm_memory },
    Spec { name: "notify_interval", scope: Scope::Server, read: notify_interval },
];

/// The option named `name`.
pub fn find(name: &str) -> Option<&'static Spec> {
    TABLE.iter().find(|s| s.name == name)
}

fn namespaces(t: &mut Target, p: &Property) -> Result<(), String> {
    if p.args.is_empty() {
        return Err("needs at least one namespace".into());
    }
    t.stanza.namespaces.extend(p.args.iter().cloned());
    Ok(())
}

fn pods(t: &mut Target, p: &Property) -> Result<(), String> {
    t.stanza.pods = match one(p)? {
        "disabled" => PodMode::Disabled,
        "insecure" => PodMode::Insecure,
        "verified" => PodMode::Verified,
        other => return Err(format!("wrong value {other:?}, must be one of: disabled, verified, insecure")),
    };
    Ok(())
}

fn ttl(t: &mut Target, p: &Property) -> Result<(), String> {
    let value = one(p)?;
    let ttl = go_int(value).ok_or_else(|| format!("{value:?} is not an integer"))?;
    if !(0..=MAX_TTL).contains(&ttl) {
        return Err(format!("ttl must be in range [0, {MAX_TTL}]: {ttl}"));
    }
    t.stanza.ttl = ttl as u32;
    Ok(())
}

fn fallthrough(t: &mut Target, p: &Property) -> Result<(), String> {
    t.stanza.fallthrough = if p.args.is_empty() { vec![crate::dns::Name::root()] } else { zone_args(&p.args)? };
    Ok(())
}

fn ignore(t: &mut Target, p: &Property) -> Result<(), String> {
    match one(p)? {
        "empty_service" => {
            t.stanza.ignore_empty_service = true;
            Ok(())
        }
        other => Err(format!("unable to parse ignore value: {other:?}")),
    }
}

fn multicluster(t: &mut Target, p: &Property) -> Result<(), String> {
    if p.args.is_empty() {
        return Err("needs at least one zone".into());
    }
    let zones = zone_args(&p.args)?;
    own_zones(t.stanza, &zones, "multicluster")?;
    t.stanza.multicluster = zones;
    Ok(())
}

/// Refuses a zone an option names that is not one of the stanza's own.
fn own_zones(config: &StanzaConfig, zones: &[crate::dns::Name], option: &str) -> Result<(), String> {
    if let Some(z) = zones.iter().find(|z| !config.zones.contains(z)) {
        let all: Vec<String> = config.zones.iter().map(ToString::to_string).collect();
        return Err(format!("is not authoritative for the {option} zone {z} (authoritative zones: {})", all.join(" ")));
    }
    Ok(())
}

fn zone_args(args: &[String]) -> Result<Vec<crate::dns::Name>, String> {
    let mut out = Vec::new();
    for arg in args {
        out.extend(zones::normalize(arg)?);
    }
    Ok(out)
}

/// `labels` and `namespace_labels`: the arguments joined, as the plugin
/// joins them, read as a label selector that selects something less than
/// everything.
fn selector(p: &Property) -> Result<Selector, String> {
    let text = p.args.join(" ");
    match Selector::parse(&text) {
        Ok(Some(selector)) => Ok(selector),
        Ok(None) => Err("needs a label selector".into()),
        Err(e) => Err(format!("unable to parse label selector {text:?}: {e}")),
    }
}

/// A duration that is not negative.
fn duration(p: &Property) -> Result<Duration, String> {
    let v = one(p)?;
    Duration::parse(v).ok().filter(|d| d.0 >= 0).ok_or_else(|| format!("{v:?} is not a duration such as 5s"))
}

fn wasm(t: &mut Target, p: &Property) -> Result<(), String> {
    let path = one(p)?;
    if path.is_empty() {
        return Err("needs a file name, got an empty one".into());
    }
    t.runtime.wasm = path.into();
    t.runtime.wasm_line = p.line;
    Ok(())
}

/// `wasm_cache DIR`: the host needs DIR before any core runs (it keeps the
/// compilations of cores there), so it reads the value itself and the
/// configuration does not carry it; the core still checks it as it checks
/// every option, and refuses it given twice.
fn wasm_cache(_: &mut Target, p: &Property) -> Result<(), String> {
    if one(p)?.is_empty() {
        return Err("needs a directory, got an empty name".into());
    }
    Ok(())
}

/// `wasm_shadow PATH [share FRACTION] [max_rate QPS] [promote_after
/// QUERIES]`: a module asked a share of the queries after the serving one
/// answered, to compare. Only the host acts on it, so it reads the values
/// itself (as it reads `wasm_cache`); the core checks them.
fn wasm_shadow(_: &mut Target, p: &Property) -> Result<(), String> {
    let Some((path, rest)) = p.args.split_first() else {
        return Err(
            "needs a module file: wasm_shadow PATH [share FRACTION] [max_rate QPS] [promote_after QUERIES]".into()
        );
    };
    if path.is_empty() {
        return Err("needs a file name, got an empty one".into());
    }
    if rest.len() % 2 != 0 {
        return Err(format!("{:?} has no value", rest[rest.len() - 1]));
    }
    let mut seen: Vec<&str> = Vec::new();
    for pair in rest.chunks(2) {
        let (key, value) = (pair[0].as_str(), pair[1].as_str());
        if seen.contains(&key) {
            return Err(format!("{key} given more than once"));
        }
        seen.push(key);
        match key {
            "share" => {
                let share = value.parse::<f64>().ok().filter(|f| f.is_finite() && *f > 0.0 && *f <= 1.0);
                share.ok_or_else(|| format!("share {value:?} is not a fraction greater than 0, at most 1"))?;
            }
            "max_rate" | "promote_after" => {
                let n = go_int(value).filter(|n| *n >= 1 && *n <= i64::from(u32::MAX));
                n.ok_or_else(|| format!("{key} {value:?} is not an integer from 1 to {}", u32::MAX))?;
            }
            other => {
                return Err(format!("unknown setting {other:?}, must be one of: share, max_rate, promote_after"));
            }
        }
    }
    Ok(())
}

/// `readiness hold|release`: only the host acts on it (whether an unsynced
/// stanza holds `/ready`; no answer depends on it), so it reads the value
/// itself, without a change to the contract; the core still checks it as
/// it checks every option, and refuses it given twice in a stanza.
fn readiness(_: &mut Target, p: &Property) -> Result<(), String> {
    match one(p)? {
        "hold" | "release" => Ok(()),
        other => Err(format!("wrong value {other:?}, must be one of: hold, release")),
    }
}

/// `cluster NAME`: the stanza's name, its label in metrics and logs in
/// place of its position. One DNS label (lower case letters, digits and
/// inner hyphens) so that it can become part of a name; not digits alone,
/// which read as another stanza's position. Unique in the server block
/// (checked in `parse`, which sees every stanza).
fn cluster(t: &mut Target, p: &Property) -> Result<(), String> {
    let name = one(p)?;
    let label_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let fits = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(label_char)
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !fits {
        return Err(format!(
            "{name:?} is not a cluster name: want one DNS label of at most 63 lower case letters, digits and inner hyphens"
        ));
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name:?} is not a cluster name: digits alone read as a stanza's position"));
    }
    t.stanza.cluster = Some(name.into());
    Ok(())
}

/// `clusterset [ZONES...]`: the stanza answers these of its zones (all of
/// them when none is named) together with every other stanza naming the
/// same zone (see `chain::set`). Membership needs `cluster NAME`, and a
/// `multicluster` zone already merges clusters its own way: both are
/// checked in `parse`, which sees every option of every stanza.
fn clusterset(t: &mut Target, p: &Property) -> Result<(), String> {
    let zones = if p.args.is_empty() { t.stanza.zones.clone() } else { zone_args(&p.args)? };
    own_zones(t.stanza, &zones, "clusterset")?;
    t.stanza.clusterset = zones;
    Ok(())
}

fn wasm_timeout(t: &mut Target, p: &Property) -> Result<(), String> {
    let d = duration(p)?;
    if d < MIN_WASM_TIMEOUT || d > MAX_WASM_TIMEOUT {
        return Err(format!("{d} is out of range: want between {MIN_WASM_TIMEOUT} and {MAX_WASM_TIMEOUT}"));
    }
    t.runtime.wasm_timeout_ns = d.nanos();
    Ok(())
}

fn wasm_memory(t: &mut Target, p: &Property) -> Result<(), String> {
    t.runtime.wasm_memory = size::parse(one(p)?, MIN_WASM_MEMORY, MAX_WASM_MEMORY)?;
    Ok(())
}

fn notify_interval(t: &mut Target, p: &Property) -> Result<(), String> {
    let d = duration(p)?;
    if d.0 == 0 {
        return Err("must be longer than 0s".into());
    }
    t.runtime.notify_interval_ns = d.nanos();
    Ok(())
}
