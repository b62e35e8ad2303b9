//! Fuzz-style test of the core: a seeded generator mutates the corpus in
//! `tests/fuzz-seeds` and drives `lookup` (with upstream replies),
//! `apply`, `transfer` (with mutated cursors) and `configure`. Nothing
//! may panic, and every message the core writes, answers and transfer
//! pages alike, must be a well-formed DNS message of at most 65,535
//! octets (checked by `fuzz/wire.rs`, apart from the core's writer, and by
//! hickory-proto).
//!
//! Each target runs for `KUBERNETAI_FUZZ_SECONDS` (default 3) from seed
//! `KUBERNETAI_FUZZ_SEED` (default fixed; from the clock when only the
//! duration is given). Every iteration draws from its own generator, so a
//! failure, which prints the seed and iteration, replays alone with
//! `KUBERNETAI_FUZZ_ITERATION`.

#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/wire.rs"]
mod wire;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata};
use kubernetai::Kubernetai;
use kubernetai::contract::{Change, Event, HostInfo, Kind, Outcome, Property, Stanza, UpstreamReply};
use mutate::Rng;

/// Seconds per target when the environment names none.
const DEFAULT_SECONDS: f64 = 3.0;
const DEFAULT_SEED: u64 = 0x6b75_6265_726e_6574;
/// Pages followed from one cursor, mutated or not.
const MAX_PAGES: usize = 2000;

struct Settings {
    seed: u64,
    seconds: f64,
    only: Option<u64>,
}

fn settings() -> Settings {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let seconds = var("KUBERNETAI_FUZZ_SECONDS").map(|s| s.parse::<f64>().expect("KUBERNETAI_FUZZ_SECONDS: seconds"));
    let seed = match var("KUBERNETAI_FUZZ_SEED") {
        Some(s) => s.parse().expect("KUBERNETAI_FUZZ_SEED: a number"),
        None if seconds.is_some() => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        }
        None => DEFAULT_SEED,
    };
    let only = var("KUBERNETAI_FUZZ_ITERATION").map(|i| i.parse().expect("KUBERNETAI_FUZZ_ITERATION: a number"));
    Settings { seed, seconds: seconds.unwrap_or(DEFAULT_SECONDS), only }
}

/// Runs `each` on fresh generators until the time is up; a panic or an
/// error fails the test with what replays it.
fn run(target: &str, mut each: impl FnMut(&mut Rng) -> Result<(), String>) {
    let s = settings();
    eprintln!("fuzz {target}: seed {} for {}s", s.seed, s.seconds);
    let start = Instant::now();
    let budget = Duration::from_secs_f64(s.seconds);
    let salt = target.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut done = 0;
    for i in s.only.map_or(0, |i| i)..=s.only.unwrap_or(u64::MAX) {
        if s.only.is_none() && start.elapsed() >= budget {
            break;
        }
        let mut rng = Rng::new(s.seed ^ salt ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| each(&mut rng)));
        let failure = match outcome {
            Ok(Ok(())) => {
                done += 1;
                continue;
            }
            Ok(Err(why)) => why,
            Err(panic) => {
                let text = panic.downcast_ref::<String>().cloned();
                format!(
                    "panic: {}",
                    text.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
                )
            }
        };
        panic!(
            "fuzz {target}: seed {} iteration {i}: {failure}\nreplay: KUBERNETAI_FUZZ_SEED={} KUBERNETAI_FUZZ_ITERATION={i} \
             cargo test -p kubernetai --test fuzz {target}",
            s.seed, s.seed
        );
    }
    eprintln!("fuzz {target}: {done} iterations in {:.1?}", start.elapsed());
}

fn seeds(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-seeds").join(dir)
}

/// The non-comment lines of a seed file.
fn lines(path: PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

/// Files of a seed directory in name order, with their contents.
fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(seeds(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

/// Queries of `lookup/queries.txt` in wire form.
fn queries() -> Vec<Vec<u8>> {
    lines(seeds("lookup").join("queries.txt"))
        .iter()
        .map(|line| {
            let mut words = line.split_whitespace();
            let name = Name::from_ascii(words.next().unwrap()).unwrap();
            let rtype: RecordType = words.next().unwrap().parse().unwrap();
            let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
            m.metadata.recursion_desired = true;
            m.add_query(Query::query(name, rtype));
            for flag in words {
                match flag.split_once('=') {
                    Some(("id", id)) => m.metadata.id = id.parse().unwrap(),
                    _ if flag == "edns" => {
                        let mut edns = Edns::new();
                        edns.set_max_payload(4096);
                        m.set_edns(edns);
                    }
                    _ if flag == "notify" => m.metadata.op_code = OpCode::Notify,
                    _ => panic!("queries.txt: unknown flag {flag}"),
                }
            }
            m.to_vec().unwrap()
        })
        .collect()
}

/// The kind a seed object's file name starts with.
fn kind_of(file: &str) -> Kind {
    match file.split('-').next().unwrap() {
        "namespace" => Kind::Namespace,
        "service" => Kind::Service,
        "endpointslice" => Kind::EndpointSlice,
        "pod" => Kind::Pod,
        "serviceimport" => Kind::ServiceImport,
        other => panic!("apply seed {file}: unknown kind {other}"),
    }
}

const KINDS: [Kind; 5] = [Kind::Namespace, Kind::Service, Kind::EndpointSlice, Kind::Pod, Kind::ServiceImport];

/// The objects of `apply/`, and a headless service of 300 endpoints in
/// two slices, so that transfers take several pages.
fn objects() -> Vec<Event> {
    let mut events: Vec<Event> = files("apply", "json")
        .into_iter()
        .map(|(file, json)| Event { change: Change::Upsert, kind: kind_of(&file), object: json.into_bytes() })
        .collect();
    let upsert = |kind, json: String| Event { change: Change::Upsert, kind, object: json.into_bytes() };
    events.push(upsert(
        Kind::Service,
        r#"{"metadata":{"name":"many","namespace":"shop"},"spec":{"clusterIP":"None","ports":[{"name":"http","port":80}]}}"#
            .into(),
    ));
    for part in 0..2 {
        let endpoints: Vec<String> =
            (0..150).map(|i| format!(r#"{{"addresses":["10.4.{part}.{i}"],"hostname":"m{part}-{i}"}}"#)).collect();
        events.push(upsert(
            Kind::EndpointSlice,
            format!(
                r#"{{"metadata":{{"name":"many-{part}","namespace":"shop","labels":{{"kubernetes.io/service-name":"many"}}}},
                   "addressType":"IPv4","endpoints":[{}],"ports":[{{"name":"http","port":80}}]}}"#,
                endpoints.join(",")
            ),
        ));
    }
    events
}

/// Stanzas of a Corefile as the host hands them over: each `kubernetai
/// ZONES... {` block, its option lines, numbered from 1.
fn stanzas(corefile: &str) -> Vec<Stanza> {
    let mut out: Vec<Stanza> = Vec::new();
    let mut open = false;
    for (i, line) in corefile.lines().enumerate() {
        let line_no = i as u32 + 1;
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        match words.first().map(String::as_str) {
            None => {}
            Some("}") => open = false,
            Some("kubernetai") => {
                let zones = words[1..].iter().filter(|w| *w != "{").cloned().collect();
                out.push(Stanza { zones, properties: Vec::new(), line: line_no });
                open = true;
            }
            Some(_) if open => {
                let stanza = out.last_mut().unwrap();
                stanza.properties.push(Property { name: words[0].clone(), args: words[1..].to_vec(), line: line_no });
            }
            Some(_) => {}
        }
    }
    out
}

fn host() -> HostInfo {
    HostInfo { local_ips: vec!["10.1.0.7".into(), "10.0.0.9".into()], search: vec!["corp.example.".into()] }
}

/// A core configured from `configure/served.corefile`, holding `objects`.
fn served(objects: &[Event]) -> Kubernetai {
    let corefile = std::fs::read_to_string(seeds("configure").join("served.corefile")).unwrap();
    let (mut core, _) = Kubernetai::configure(&stanzas(&corefile), 42).unwrap();
    core.set_host(&host());
    let report = core.apply(0, 1_700_000_000, objects);
    assert_eq!(report.skipped, 0, "{:?}", report.problems);
    core.set_synced(0, true);
    core
}

/// Answers `query`, resolving what the core sends upstream with replies
/// made from `rng` (some failed, some mutated); checks every message.
fn lookup(core: &Kubernetai, query: &[u8], rng: &mut Rng) -> Result<(), String> {
    let mut outcome = core.lookup(query, &[]);
    if let Outcome::Upstream(needed) = &outcome {
        let replies: Vec<UpstreamReply> = needed
            .iter()
            .map(|q| UpstreamReply {
                name: q.name.clone(),
                qtype: q.qtype,
                message: upstream_reply(&q.name, q.qtype, rng),
            })
            .collect();
        outcome = core.lookup(query, &replies);
        if let Outcome::Upstream(again) = &outcome {
            return Err(format!("asked again for {again:?} after the replies {replies:?}"));
        }
    }
    if let Outcome::Answer(answer) = &outcome {
        wire::check(&answer.message).map_err(|e| format!("answer to {query:02x?}: {e}\n{:02x?}", answer.message))?;
        if query.len() >= 2 && answer.message[..2] != query[..2] {
            return Err(format!("answer to {query:02x?} has another id"));
        }
    }
    Ok(())
}

/// What a resolver might return for `name`: a CNAME and an address, or
/// nothing (a failed lookup), possibly mutated.
fn upstream_reply(name: &str, qtype: u16, rng: &mut Rng) -> Vec<u8> {
    if rng.chance(5) {
        return Vec::new();
    }
    let owner = Name::from_ascii(name).unwrap_or_else(|_| Name::root());
    let edge = Name::from_ascii("edge.example.net.").unwrap();
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(owner.clone(), RecordType::from(qtype)));
    m.add_answer(Record::from_rdata(owner, 60, RData::CNAME(rdata::CNAME(edge.clone()))));
    let address = if qtype == 28 {
        RData::AAAA(rdata::AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
    } else {
        RData::A(rdata::A::new(192, 0, 2, 7))
    };
    m.add_answer(Record::from_rdata(edge, 30, address));
    let mut bytes = m.to_vec().unwrap();
    if rng.chance(2) {
        mutate::bytes(rng, &mut bytes, &[]);
    }
    bytes
}

/// A whole transfer of `zone` from `cursor` in pages of `records`, as the
/// host runs one; checks every message. Stops after `MAX_PAGES`.
fn transfer(
    core: &Kubernetai,
    zone: &str,
    serial: u32,
    cursor: Vec<u8>,
    records: usize,
) -> Result<Vec<Vec<u8>>, String> {
    let mut cursors = Vec::new();
    let mut cursor = cursor;
    for _ in 0..MAX_PAGES {
        let page = match core.transfer_in_pages_of(zone, serial, &cursor, records) {
            Ok(Some(page)) => page,
            Ok(None) | Err(_) => return Ok(cursors),
        };
        for m in &page.messages {
            wire::check(m).map_err(|e| format!("transfer of {zone:?} from {cursor:02x?}: {e}"))?;
        }
        match page.next {
            Some(next) => {
                cursors.push(next.clone());
                cursor = next;
            }
            None => return Ok(cursors),
        }
    }
    Err(format!("transfer of {zone:?} did not end in {MAX_PAGES} pages of {records}"))
}

#[test]
fn fuzz_lookup() {
    let core = served(&objects());
    let queries = queries();
    run("fuzz_lookup", |rng| {
        let mut query = rng.pick(&queries).clone();
        if !rng.chance(8) {
            let other = rng.pick(&queries).clone();
            mutate::bytes(rng, &mut query, &other);
        }
        lookup(&core, &query, rng)
    });
}

#[test]
fn fuzz_apply() {
    let base = objects();
    let seeds: Vec<(Kind, String)> = files("apply", "json").into_iter().map(|(f, json)| (kind_of(&f), json)).collect();
    let queries = queries();
    run("fuzz_apply", |rng| {
        let mut core = served(&base);
        let mut events = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let (kind, json) = rng.pick(&seeds);
            let kind = if rng.chance(5) { *rng.pick(&KINDS) } else { *kind };
            let object = match rng.below(3) {
                0 => {
                    let mut bytes = json.clone().into_bytes();
                    let other = rng.pick(&seeds).1.clone();
                    mutate::bytes(rng, &mut bytes, other.as_bytes());
                    bytes
                }
                _ => {
                    let mut text = json.clone();
                    for _ in 0..1 + rng.below(3) {
                        text = mutate::json_value(rng, &text);
                    }
                    text.into_bytes()
                }
            };
            let change = if rng.chance(6) { Change::Delete } else { Change::Upsert };
            events.push(Event { change, kind, object });
        }
        let report = core.apply(0, 1_800_000_000, &events);
        if (report.applied + report.skipped) as usize != events.len()
            || report.problems.len() != report.skipped as usize
        {
            return Err(format!("report {report:?} for {} events", events.len()));
        }
        let shown = || events.iter().map(|e| String::from_utf8_lossy(&e.object).into_owned()).collect::<Vec<_>>();
        for _ in 0..4 {
            let query = rng.pick(&queries).clone();
            lookup(&core, &query, rng).map_err(|e| format!("{e}\nafter applying {:?}", shown()))?;
        }
        transfer(&core, "cluster.local.", 0, Vec::new(), 1 + rng.below(400))
            .map_err(|e| format!("{e}\nafter applying {:?}", shown()))?;
        Ok(())
    });
}

#[test]
fn fuzz_transfer() {
    let core = served(&objects());
    let zones = lines(seeds("transfer").join("zones.txt"));
    let mut cursors: Vec<Vec<u8>> = lines(seeds("transfer").join("cursors.hex")).iter().map(|h| unhex(h)).collect();
    for zone in &zones {
        // Real cursors, taken from a transfer in small pages.
        cursors.extend(transfer(&core, zone, 0, Vec::new(), 40).unwrap());
    }
    run("fuzz_transfer", |rng| {
        let mut zone = rng.pick(&zones).clone();
        if rng.chance(6) {
            let mut bytes = zone.into_bytes();
            mutate::bytes(rng, &mut bytes, b"cluster.local.");
            zone = String::from_utf8_lossy(&bytes).into_owned();
        }
        let mut cursor = if rng.chance(4) { Vec::new() } else { rng.pick(&cursors).clone() };
        if rng.chance(2) {
            let other = rng.pick(&cursors).clone();
            mutate::bytes(rng, &mut cursor, &other);
        }
        let random = rng.next() as u32;
        let serial = *rng.pick(&[0, 1, 1_700_000_000, 1_700_000_001, u32::MAX, random]);
        transfer(&core, &zone, serial, cursor, 1 + rng.below(3000)).map(|_| ())
    });
}

#[test]
fn fuzz_configure() {
    let corefiles: Vec<String> = files("configure", "corefile").into_iter().map(|(_, text)| text).collect();
    let options: Vec<String> =
        corefiles.iter().flat_map(|c| stanzas(c)).flat_map(|s| s.properties).map(|p| p.name).collect();
    let queries = queries();
    run("fuzz_configure", |rng| {
        let seed = rng.pick(&corefiles).clone();
        let corefile = mutate_corefile(rng, &seed, &options);
        let input = stanzas(&corefile);
        match Kubernetai::configure(&input, rng.next()) {
            Ok((core, configuration)) => {
                if configuration.stanzas.len() != input.len() {
                    return Err(format!(
                        "{} plans for {} stanzas:\n{corefile}",
                        configuration.stanzas.len(),
                        input.len()
                    ));
                }
                let query = rng.pick(&queries).clone();
                lookup(&core, &query, rng).map_err(|e| format!("{e}\nconfigured by\n{corefile}"))
            }
            Err(e) if e.reason.is_empty() || (!input.is_empty() && e.stanza as usize >= input.len()) => {
                Err(format!("error {e:?} for {} stanzas:\n{corefile}", input.len()))
            }
            Err(_) => Ok(()),
        }
    });
}

/// Changes one to three lines of a Corefile: a word replaced by a token
/// or another option's name, a word added, a line dropped or repeated,
/// or the bytes of a line mutated.
fn mutate_corefile(rng: &mut Rng, corefile: &str, options: &[String]) -> String {
    let mut lines: Vec<String> = corefile.lines().map(String::from).collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(lines.len());
        let mut words: Vec<String> = lines[at].split_whitespace().map(String::from).collect();
        match rng.below(6) {
            0 if !words.is_empty() => {
                let w = rng.below(words.len());
                words[w] = mutate::token(rng);
            }
            1 if !words.is_empty() => words[0] = rng.pick(options).clone(),
            2 => words.push(mutate::token(rng)),
            3 if lines.len() > 1 => {
                lines.remove(at);
                continue;
            }
            4 => {
                let copy = lines[at].clone();
                lines.insert(at, copy);
                continue;
            }
            _ => {
                let mut bytes = lines[at].clone().into_bytes();
                mutate::bytes(rng, &mut bytes, corefile.as_bytes());
                lines[at] = String::from_utf8_lossy(&bytes).into_owned();
                continue;
            }
        }
        lines[at] = words.join(" ");
    }
    lines.join("\n")
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The strict reader refuses what it must (its checks can fail).
#[test]
fn the_reader_refuses_what_it_should() {
    // Header, question `a.` A IN, one A record pointing at the question.
    let good = [
        &[0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0][..],
        &[1, b'a', 0, 0, 1, 0, 1],
        &[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1],
    ]
    .concat();
    assert_eq!(wire::check(&good), Ok(()));
    let mut more = good.clone();
    more[7] = 2;
    let mut long = good.clone();
    long[good.len() - 5] = 5;
    let mut forward = good.clone();
    forward[20] = 30;
    for (bad, why) in [
        (more, "record 1 of 2"),
        (long, "past the end"),
        ([good.clone(), vec![0]].concat(), "after the last"),
        (forward, "not backwards"),
        (vec![0; 70_000], "70000 octets"),
    ] {
        let err = wire::check(&bad).unwrap_err();
        assert!(err.contains(why), "{err}");
    }
}
