//! One stanza: a cluster's options, its objects, and everything it
//! answers — queries (`answers`), zone transfers (`transfer`), autopath
//! search paths (`autopath`) and metadata (`metadata`) — over the grammar
//! of names in its zones (`grammar`).

mod answers;
mod autopath;
mod cursor;
mod grammar;
mod metadata;
mod seen;
mod transfer;

use crate::cluster::index::Index;
use crate::cluster::objects::Keep;
use crate::cluster::seeded::Seeded;
use crate::cluster::selection::Selection;
use crate::contract::{StanzaPlan, UpstreamQuery, UpstreamReply, ZoneSerial};
use crate::dns::{Name, Owner, RData, Rcode, Record, RecordType, Reply, Response, message};
use crate::options::StanzaConfig;

pub use answers::srv_weight;
pub use cursor::{Cursor, Position};
pub use transfer::{PAGE_RECORDS, Page, ServicePage, Style, serial_not_older};

/// SOA records never claim a TTL above this.
const MAX_SOA_TTL: u32 = 300;

/// One cluster: its options, its objects, whether its source has synced.
#[derive(Debug)]
pub struct Stanza {
    pub config: StanzaConfig,
    pub index: Index,
    pub synced: bool,
    seed: Seeded,
}

/// What one stanza makes of a query.
#[derive(Debug)]
pub enum Served {
    /// The name is outside the stanza's zones.
    NotInZone,
    Respond(Response),
    /// The name does not exist here. Carries the matched zone as the client
    /// wrote it, for the SOA of a negative answer.
    NameError(Name),
    /// Write nothing; CoreDNS answers with this code.
    Rcode(Rcode),
    /// The answer needs these names resolved by the host first.
    Upstream(Vec<UpstreamQuery>),
}

/// How a name of a `clusterset` zone is answered from the set's members
/// (see `chain::set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every member's records (headless services, endpoint names, PTR).
    Each,
    /// One member's: the first that is `ready` (a ClusterIP service with
    /// ready endpoints; any other name is ready where it exists).
    First { ready: bool },
}

/// The name does not exist (the plugin's errNoItems, errNsNotExposed and
/// errInvalidRequest, which it treats alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchName;

type Lookup<T> = Result<T, NoSuchName>;

/// Replies the host fetched for CNAME targets outside the stanza, and the
/// ones still needed.
pub struct Upstream<'a> {
    replies: &'a [UpstreamReply],
    pub needed: Vec<UpstreamQuery>,
    /// Set during lookups whose records are thrown away, so that they do
    /// not send the host resolving names for nothing.
    quiet: bool,
}

impl<'a> Upstream<'a> {
    pub fn new(replies: &'a [UpstreamReply]) -> Upstream<'a> {
        Upstream { replies, needed: Vec::new(), quiet: false }
    }

    fn reply(&mut self, target: &Name, qtype: RecordType) -> Option<Reply> {
        let name = target.to_string();
        let qtype = u16::from(qtype);
        if let Some(r) = self.replies.iter().find(|r| r.qtype == qtype && r.name.eq_ignore_ascii_case(&name)) {
            // An empty message is a failed lookup: the CNAME is dropped, as
            // the plugin drops it when its upstream lookup fails.
            return if r.message.is_empty() { None } else { message::parse_reply(&r.message).ok() };
        }
        if !self.quiet && !self.needed.iter().any(|q| q.qtype == qtype && q.name.eq_ignore_ascii_case(&name)) {
            self.needed.push(UpstreamQuery { name, qtype });
        }
        None
    }
}

impl Stanza {
    pub fn new(config: StanzaConfig, seed: Seeded) -> Stanza {
        let keep = Keep { topology: config.zonal, pod_names: config.endpoint_pod_names };
        let index = Index::new(seed, Selection::new(&config), keep);
        Stanza { config, index, synced: false, seed }
    }

    /// The longest of the stanza's zones holding `qname`, as the client
    /// wrote it.
    fn zone_of(&self, qname: &Name) -> Option<Name> {
        let start = self.config.zones.iter().filter_map(|z| qname.suffix_start(z)).min()?;
        Some(qname.suffix_from(start))
    }

    /// The longest of the configured zones holding `name`.
    pub fn config_zone_of(&self, name: &Name) -> Option<&Name> {
        self.config.zones.iter().filter(|z| name.is_subdomain_of(z)).max_by_key(|z| z.wire().len())
    }

    /// The `clusterset` zone that `name` (lower case) is answered in: the
    /// longest of the stanza's zones holding it, when that is a set zone.
    pub fn set_zone(&self, name: &Name) -> Option<&Name> {
        if self.config.clusterset.is_empty() {
            return None;
        }
        self.config_zone_of(name).filter(|z| self.config.clusterset.contains(z))
    }

    /// What the host must do to feed this stanza.
    pub fn plan(&self) -> StanzaPlan {
        StanzaPlan {
            zones: self.config.zones.iter().map(Name::to_string).collect(),
            watches: self.index.watches(),
            source: self.config.source.clone(),
            source_line: self.config.source_line,
            startup_timeout_ns: self.config.startup_timeout.nanos(),
        }
    }

    /// Whether the stanza's `i`th zone is a forward one, which it transfers.
    fn is_forward(&self, i: usize) -> bool {
        let z = &self.config.zones[i];
        !z.is_under_arpa()
    }

    /// The serials of the zones the stanza transfers.
    pub fn serials(&self) -> Vec<ZoneSerial> {
        (0..self.config.zones.len())
            .filter(|&i| self.is_forward(i))
            .map(|i| {
                let zone = &self.config.zones[i];
                ZoneSerial { zone: zone.to_string(), serial: self.serial_of(zone) }
            })
            .collect()
    }

    /// A response with no answer and the zone's SOA, for NODATA, NXDOMAIN
    /// and SERVFAIL alike.
    pub fn negative(&self, zone: &Name, rcode: Rcode) -> Response {
        Response { rcode, authoritative: true, authority: vec![self.soa(zone)], ..Response::default() }
    }

    /// The SOA serial of one of the stanza's zones.
    pub fn serial_of(&self, zone: &Name) -> u32 {
        if self.config.is_multicluster_zone(zone) { self.index.mc_serial } else { self.index.serial }
    }

    /// The zone's SOA record. Names keep the zone's case as asked.
    pub fn soa(&self, zone: &Name) -> Record {
        self.soa_at(zone, self.serial_of(zone))
    }

    /// The zone's SOA record with this serial.
    pub fn soa_at(&self, zone: &Name, serial: u32) -> Record {
        let ttl = self.config.ttl;
        let under = |labels: &[&str]| Name::with_prefix(labels, zone).unwrap_or_else(|_| zone.clone());
        Record::new(
            Owner::Name(zone.clone()),
            ttl.min(MAX_SOA_TTL),
            RData::Soa {
                mname: under(&["ns", "dns"]),
                rname: under(&["hostmaster"]),
                serial,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: ttl,
            },
        )
    }
}
