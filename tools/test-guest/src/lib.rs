//! A fake DNS core for the Go host's tests.
//!
//! It implements the kubernetai WIT with answers derived from its inputs, so
//! a test can predict every byte that crosses the canonical ABI, and it can
//! misbehave on demand (trap, loop, grow memory) to exercise the host's
//! failure handling. It is never embedded in a plugin.
//!
//! `lookup` dispatches on the first label of the question name. Answers
//! come from stanza 0 with no stanza having fallen through, except with
//! `ans`:
//!
//! | label    | outcome                                                      |
//! |----------|--------------------------------------------------------------|
//! | `trap`   | panics (a trap: the release profile aborts on panic)         |
//! | `loop`   | never returns                                                |
//! | `grow`   | allocates 1 MiB blocks until memory runs out                 |
//! | `oob`    | loads from past the end of linear memory (a bounds trap)     |
//! | `fall`   | `fallthrough(X)`, X the second label in hex, else 0          |
//! | `ans`    | like other, from stanza S (third label, decimal) after the   |
//! |          | stanzas X (second label, hex): `ans.X.S.…`                   |
//! | `refuse` | `rcode(5)`                                                   |
//! | `up`     | `upstream([target.example./A, other.example./AAAA])` without |
//! |          | replies; with replies, `answer(for each: name, qtype BE,     |
//! |          | message)`                                                    |
//! | `state`  | `answer(dump of the replicated state, see [`State::dump`])`  |
//! | `count`  | `answer(events applied per stanza, u32 BE each)`             |
//! | `calls`  | `answer(apply calls per stanza, u32 BE each)`                |
//! | `serial` | `answer(last apply's now per stanza, u32 BE each)`           |
//! | other    | `answer(query with QR set, then local IPs joined by ",")`    |
//!
//! `configure` refuses the first property named `bad` (its arguments joined
//! by spaces as the reason) and otherwise plans each stanza from its
//! properties, with no other validation:
//!
//! | field              | from                                                  |
//! |--------------------|-------------------------------------------------------|
//! | zones              | the stanza's zones, lower-cased                       |
//! | watches            | namespace, service, endpoint-slice; pod with `pods`;  |
//! |                    | service-import with `multicluster`. Label selector:   |
//! |                    | `namespace_labels` (namespaces, service imports) or   |
//! |                    | `labels` (the others), arguments joined by spaces;    |
//! |                    | field selector: `fields`, arguments joined by `,`     |
//! | source             | `snapshot FILE`, else the API server of `endpoint`    |
//! |                    | (first URL; the others ignored), `tls`, `kubeconfig`  |
//! |                    | FILE [CONTEXT], `apiserver_qps`, `apiserver_burst`,   |
//! |                    | `apiserver_max_inflight`                              |
//! | source-line        | the line of `snapshot` or of the first connection     |
//! |                    | option, else of the stanza                            |
//! | startup-timeout-ns | `startup_timeout`, else 5s                            |
//! | runtime            | the first `wasm` (path and line), `pool` (else 0),    |
//! |                    | `wasm_timeout` (else 1s), `wasm_memory` (else 256Mi), |
//! |                    | `notify_interval` (else 5s), in any stanza            |
//!
//! Durations are a number and one unit (ns, us, ms, s, m, h), sizes a number
//! with an optional Ki, Mi, Gi, K, M or G and an optional B; a value that
//! does not read so leaves the default, as does a number that does not.
//!
//! `transfer(zone, serial, cursor)` is None for zone `none.`; a zone whose
//! first label is `pagesN` has N pages, others one. Page K holds the
//! messages zone, serial (decimal), whether stanza 0 is synced, and the
//! cursor it was given; its `next` is `ZONE#K+1` until the last page. A
//! cursor that is not empty and not such a `next` is an error.
//!
//! `apply` counts every event, skips (and reports) objects that do not
//! start with `{`, keeps the others by kind and `"namespace/name"`, and
//! panics on an object containing `"trap":true`, so tests can exercise the
//! host's handling of an object the core cannot digest. Its report has one
//! serial per zone of the stanza: `now` truncated to 32 bits, minus the
//! zone's index, so that zones differ and the first has the largest.
//!
//! `autopath(qname, client)` is None for client `none`, an empty list for
//! client `empty`, else `[qname, client, search list…, ""]`.
//!
//! `metadata(qname, client)` is empty for an empty qname, else
//! `test/qname`, `test/client`, `test/ünï` = `✓ß🙂`, then `test/search/I`
//! for each search domain I.
//!
//! Both trap for client `trap` and never return for client `loop`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

wit_bindgen::generate!({ path: "../../wit", world: "kubernetai" });

use exports::coredns::kubernetai::core::{
    Answer, ApplyReport, Change, ConfigError, Configuration, Connection, Event, Guest, HostInfo, Kind, MetadataEntry,
    Outcome, Property, Runtime, Source, Stanza, StanzaPlan, TransferPage, UpstreamQuery, UpstreamReply, Watch,
    ZoneSerial,
};

/// Everything the host replicates into each instance. `dump` of two
/// replicas fed the same objects is identical, whatever the history of
/// events, which lets tests check the host's replay.
#[derive(Default)]
struct State {
    seed: u64,
    local_ips: Vec<String>,
    search: Vec<String>,
    stanzas: Vec<StanzaState>,
}

#[derive(Default, Clone)]
struct StanzaState {
    /// The zones of the stanza's plan, for the apply report's serials.
    zones: Vec<String>,
    synced: bool,
    /// Events received, skipped ones included. Depends on history, unlike
    /// `objects`: a replayed replica sees fewer events.
    events: u32,
    /// Apply calls received; depends on history too.
    calls: u32,
    /// `now` of the last apply call, truncated to 32 bits.
    serial: u32,
    /// Live objects by (kind, "namespace/name").
    objects: BTreeMap<(String, String), Vec<u8>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    /// Where `grow` leaks its blocks, so the optimiser cannot drop them.
    static HOARD: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

impl State {
    fn stanza(&mut self, i: u32) -> &mut StanzaState {
        let i = i as usize;
        if i >= self.stanzas.len() {
            self.stanzas.resize(i + 1, StanzaState::default());
        }
        &mut self.stanzas[i]
    }

    /// One line per fact: `seed=N`, `ips=a,b`, `search=a,b`, then per stanza
    /// `stanza I synced=B objects=N` followed by `I KIND KEY JSON` lines
    /// in key order.
    fn dump(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "seed={}", self.seed);
        let _ = writeln!(out, "ips={}", self.local_ips.join(","));
        let _ = writeln!(out, "search={}", self.search.join(","));
        for (i, s) in self.stanzas.iter().enumerate() {
            let _ = writeln!(out, "stanza {i} synced={} objects={}", s.synced, s.objects.len());
            for ((kind, key), json) in &s.objects {
                let _ = writeln!(out, "{i} {kind} {key} {}", String::from_utf8_lossy(json));
            }
        }
        out
    }
}

struct TestGuest;

export!(TestGuest);

impl Guest for TestGuest {
    fn configure(stanzas: Vec<Stanza>, hash_seed: u64) -> Result<Configuration, ConfigError> {
        for (i, s) in stanzas.iter().enumerate() {
            if let Some(p) = s.properties.iter().find(|p| p.name == "bad") {
                return Err(ConfigError {
                    stanza: i as u32,
                    line: p.line,
                    property: p.name.clone(),
                    reason: p.args.join(" "),
                });
            }
        }
        let plans: Vec<StanzaPlan> = stanzas.iter().map(plan).collect();
        let states = plans.iter().map(|p| StanzaState { zones: p.zones.clone(), ..StanzaState::default() }).collect();
        STATE.with(|st| *st.borrow_mut() = State { seed: hash_seed, stanzas: states, ..State::default() });
        Ok(Configuration { stanzas: plans, runtime: runtime(&stanzas) })
    }

    fn set_host(info: HostInfo) {
        STATE.with(|st| {
            let mut st = st.borrow_mut();
            st.local_ips = info.local_ips;
            st.search = info.search;
        });
    }

    fn apply(stanza: u32, now: i64, events: Vec<Event>) -> ApplyReport {
        STATE.with(|st| {
            let mut st = st.borrow_mut();
            let s = st.stanza(stanza);
            s.calls += 1;
            s.serial = now as u32;
            let mut problems = Vec::new();
            for (n, e) in events.iter().enumerate() {
                s.events += 1;
                if contains(&e.object, br#""trap":true"#) {
                    panic!("trap requested by an object");
                }
                if !e.object.starts_with(b"{") {
                    problems.push(format!("event {n}: {} object is not JSON", kind_name(e.kind)));
                    continue;
                }
                let key = (kind_name(e.kind).to_string(), object_key(&e.object));
                match e.change {
                    Change::Upsert => s.objects.insert(key, e.object.clone()),
                    Change::Delete => s.objects.remove(&key),
                };
            }
            let serials = (s.zones.iter().zip(0u32..))
                .map(|(z, i)| ZoneSerial { zone: z.clone(), serial: s.serial.wrapping_sub(i) })
                .collect();
            ApplyReport { applied: events.len() as u32, skipped: problems.len() as u32, problems, serials }
        })
    }

    fn set_synced(stanza: u32, synced: bool) {
        STATE.with(|st| st.borrow_mut().stanza(stanza).synced = synced);
    }

    fn transfer(zone: String, serial: u32, cursor: Vec<u8>) -> Result<Option<TransferPage>, String> {
        if zone == "none." {
            return Ok(None);
        }
        let pages =
            zone.split('.').next().and_then(|l| l.strip_prefix("pages")).and_then(|n| n.parse().ok()).unwrap_or(1);
        let page = if cursor.is_empty() {
            0
        } else {
            std::str::from_utf8(&cursor)
                .ok()
                .and_then(|c| c.strip_prefix(&format!("{zone}#")))
                .and_then(|k| k.parse::<u32>().ok())
                .filter(|k| (1..pages).contains(k))
                .ok_or_else(|| {
                    format!("cursor {:?} is not one this core gave for {zone}", String::from_utf8_lossy(&cursor))
                })?
        };
        let synced = STATE.with(|st| st.borrow().stanzas.first().is_some_and(|s| s.synced));
        let next = (page + 1 < pages).then(|| format!("{zone}#{}", page + 1).into_bytes());
        let messages =
            vec![zone.into_bytes(), serial.to_string().into_bytes(), synced.to_string().into_bytes(), cursor];
        Ok(Some(TransferPage { messages, next }))
    }

    fn autopath(qname: String, client: String) -> Option<Vec<String>> {
        match client.as_str() {
            "trap" => panic!("trap requested"),
            "loop" => spin(),
            "none" => None,
            "empty" => Some(Vec::new()),
            _ => {
                let search = STATE.with(|st| st.borrow().search.clone());
                Some([qname, client].into_iter().chain(search).chain([String::new()]).collect())
            }
        }
    }

    fn metadata(qname: String, client: String) -> Vec<MetadataEntry> {
        match client.as_str() {
            "trap" => panic!("trap requested"),
            "loop" => spin(),
            _ => {}
        }
        if qname.is_empty() {
            return Vec::new();
        }
        let entry = |key: &str, value: String| MetadataEntry { key: key.into(), value };
        let mut out = vec![entry("test/qname", qname), entry("test/client", client), entry("test/ünï", "✓ß🙂".into())];
        STATE.with(|st| {
            for (i, s) in st.borrow().search.iter().enumerate() {
                out.push(entry(&format!("test/search/{i}"), s.clone()));
            }
        });
        out
    }

    fn lookup(query: Vec<u8>, replies: Vec<UpstreamReply>) -> Outcome {
        let labels = labels(&query);
        let label = |i: usize| labels.get(i).copied().unwrap_or_default();
        match label(0).to_ascii_lowercase().as_slice() {
            b"trap" => panic!("trap requested"),
            b"loop" => spin(),
            b"grow" => grow(),
            b"oob" => out_of_bounds(),
            b"fall" => Outcome::Fallthrough(hex(label(1)).unwrap_or(0)),
            b"ans" => {
                let stanza = std::str::from_utf8(label(2)).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                let fell_through = hex(label(1)).unwrap_or(0);
                Outcome::Answer(Answer { message: echo(query), stanza, fell_through, clusters: 0 })
            }
            b"refuse" => Outcome::Rcode(5),
            b"up" => upstream(replies),
            b"state" => answer(STATE.with(|st| st.borrow().dump()).into_bytes()),
            b"count" => answer(per_stanza(|s| s.events)),
            b"calls" => answer(per_stanza(|s| s.calls)),
            b"serial" => answer(per_stanza(|s| s.serial)),
            _ => answer(echo(query)),
        }
    }
}

/// The connection options, in the order the source line looks for them.
const CONNECTION: [&str; 6] =
    ["endpoint", "tls", "kubeconfig", "apiserver_qps", "apiserver_burst", "apiserver_max_inflight"];

fn plan(s: &Stanza) -> StanzaPlan {
    let prop = |name: &str| s.properties.iter().find(|p| p.name == name);
    let joined = |name: &str, sep: &str| prop(name).map(|p| p.args.join(sep)).unwrap_or_default();
    let watch =
        |kind, labels: &str| Watch { kind, label_selector: joined(labels, " "), field_selector: joined("fields", ",") };
    let mut watches = vec![
        watch(Kind::Namespace, "namespace_labels"),
        watch(Kind::Service, "labels"),
        watch(Kind::EndpointSlice, "labels"),
    ];
    if prop("pods").is_some() {
        watches.push(watch(Kind::Pod, "labels"));
    }
    if prop("multicluster").is_some() {
        watches.push(watch(Kind::ServiceImport, "namespace_labels"));
    }
    let (source, source_line) = match prop("snapshot") {
        Some(p) => (Source::Snapshot(arg(p, 0)), p.line),
        None => {
            let first = s.properties.iter().find(|p| CONNECTION.contains(&p.name.as_str()));
            (Source::ApiServer(connection(s)), first.map_or(s.line, |p| p.line))
        }
    };
    StanzaPlan {
        zones: s.zones.iter().map(|z| z.to_lowercase()).collect(),
        watches,
        source,
        source_line,
        startup_timeout_ns: duration(prop("startup_timeout"), 5_000_000_000),
    }
}

fn connection(s: &Stanza) -> Connection {
    let prop = |name: &str| s.properties.iter().find(|p| p.name == name);
    let number = |name: &str| prop(name).and_then(|p| p.args.first()?.parse().ok()).unwrap_or(0);
    let endpoint = prop("endpoint").map(|p| p.args.clone()).unwrap_or_default();
    Connection {
        endpoint: endpoint.first().cloned().unwrap_or_default(),
        ignored_endpoints: endpoint.iter().skip(1).cloned().collect(),
        tls: prop("tls").map(|p| p.args.clone()).unwrap_or_default(),
        kubeconfig: prop("kubeconfig").map(|p| arg(p, 0)).unwrap_or_default(),
        context: prop("kubeconfig").map(|p| arg(p, 1)).unwrap_or_default(),
        qps: prop("apiserver_qps").and_then(|p| p.args.first()?.parse().ok()).unwrap_or(0.0),
        burst: number("apiserver_burst"),
        max_inflight: number("apiserver_max_inflight"),
    }
}

fn runtime(stanzas: &[Stanza]) -> Runtime {
    let prop = |name: &str| stanzas.iter().flat_map(|s| &s.properties).find(|p| p.name == name);
    Runtime {
        wasm: prop("wasm").map(|p| arg(p, 0)).unwrap_or_default(),
        wasm_line: prop("wasm").map_or(0, |p| p.line),
        pool: prop("pool").and_then(|p| p.args.first()?.parse().ok()).unwrap_or(0),
        wasm_timeout_ns: duration(prop("wasm_timeout"), 1_000_000_000),
        wasm_memory: prop("wasm_memory").and_then(|p| size(p.args.first()?)).unwrap_or(256 << 20),
        notify_interval_ns: duration(prop("notify_interval"), 5_000_000_000),
    }
}

/// Argument i of a property, or empty.
fn arg(p: &Property, i: usize) -> String {
    p.args.get(i).cloned().unwrap_or_default()
}

/// A duration of one number and one unit, in nanoseconds.
fn duration(p: Option<&Property>, default: u64) -> u64 {
    let Some(text) = p.and_then(|p| p.args.first()) else { return default };
    let units = [
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    units.iter().find_map(|(unit, ns)| text.strip_suffix(unit)?.parse::<u64>().ok().map(|n| n * ns)).unwrap_or(default)
}

/// A size in bytes: a number, an optional Ki, Mi, Gi, K, M or G, an
/// optional B.
fn size(text: &str) -> Option<u64> {
    let text = text.strip_suffix('B').unwrap_or(text);
    let units =
        [("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000)];
    let (number, factor) = units.iter().find_map(|(unit, f)| Some((text.strip_suffix(unit)?, *f))).unwrap_or((text, 1));
    number.parse::<u64>().ok().map(|n| n * factor)
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Namespace => "namespace",
        Kind::Service => "service",
        Kind::EndpointSlice => "endpoint-slice",
        Kind::Pod => "pod",
        Kind::ServiceImport => "service-import",
    }
}

/// "namespace/name" from the first `"namespace":"…"` and `"name":"…"` in
/// the JSON; a missing field reads as empty. Good enough for test objects.
fn object_key(json: &[u8]) -> String {
    let field = |name: &str| {
        let pat = format!("\"{name}\":\"");
        let text = String::from_utf8_lossy(json);
        text.find(&pat)
            .map(|at| {
                let rest = &text[at + pat.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())].to_string()
            })
            .unwrap_or_default()
    };
    format!("{}/{}", field("namespace"), field("name"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The labels of the question name, which starts right after the header
/// (offset 12), uncompressed; stops at the root or where the message ends.
fn labels(msg: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 12;
    while let Some(&len) = msg.get(at) {
        let Some(label) = msg.get(at + 1..at + 1 + len as usize) else { break };
        if len == 0 {
            break;
        }
        out.push(label);
        at += 1 + len as usize;
    }
    out
}

fn hex(label: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(label).ok()?, 16).ok()
}

/// An answer from stanza 0, no stanza having fallen through.
fn answer(message: Vec<u8>) -> Outcome {
    Outcome::Answer(Answer { message, stanza: 0, fell_through: 0, clusters: 0 })
}

fn per_stanza(f: impl Fn(&StanzaState) -> u32) -> Vec<u8> {
    STATE.with(|st| st.borrow().stanzas.iter().flat_map(|s| f(s).to_be_bytes()).collect())
}

/// The query with QR set, then the local IPs joined by ",".
fn echo(mut query: Vec<u8>) -> Vec<u8> {
    if let Some(flags) = query.get_mut(2) {
        *flags |= 0x80;
    }
    STATE.with(|st| query.extend_from_slice(st.borrow().local_ips.join(",").as_bytes()));
    query
}

fn upstream(replies: Vec<UpstreamReply>) -> Outcome {
    if replies.is_empty() {
        return Outcome::Upstream(vec![
            UpstreamQuery { name: "target.example.".into(), qtype: 1 },
            UpstreamQuery { name: "other.example.".into(), qtype: 28 },
        ]);
    }
    let mut out = Vec::new();
    for r in replies {
        out.extend_from_slice(r.name.as_bytes());
        out.extend_from_slice(&r.qtype.to_be_bytes());
        out.extend_from_slice(&r.message);
    }
    answer(out)
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        // black_box keeps the loop observable, so it is not optimised away.
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn out_of_bounds() -> ! {
    // Linear memory stays far below 4 GiB, so the last word of the 32-bit
    // address space lies outside it and the load traps. black_box keeps the
    // compiler from proving the address wrong and emitting `unreachable`.
    let addr = std::hint::black_box(u32::MAX as usize - 7) as *const u64;
    // SAFETY: none; the point is the trap. The load never completes.
    let word = unsafe { addr.read_volatile() };
    panic!("loaded {word} from outside linear memory")
}

fn grow() -> ! {
    loop {
        let block = std::hint::black_box(vec![1u8; 1 << 20]);
        HOARD.with(|h| h.borrow_mut().push(block));
    }
}
