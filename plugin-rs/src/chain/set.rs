//! Cluster sets: stanzas that answer a zone together (`clusterset`).
//!
//! Without a set, the first stanza that has a name answers it. In a set,
//! every member is asked, and what a name names decides how their answers
//! combine (see [`Shape`]): a headless service gives the endpoints of
//! every member that has it, a ClusterIP service the first member's whose
//! copy has ready endpoints. The whole set must miss a name for NXDOMAIN.
//!
//! Each member's own copy of a name is answerable on its own with the
//! member's `cluster` name right under the zone:
//! `SERVICE.NAMESPACE.svc.CLUSTER.ZONE`. The kubernetes plugin's names
//! need `svc` or `pod` as the label under the zone, so no such name existed
//! before; an endpoint's hostname always sits left of the service, so none
//! can be mistaken for a cluster.
//!
//! In a set zone, SRV weights split 100 over the records at one owner name
//! (queries and transfers alike), and SOA serials are the largest of the
//! members': either changes when any member's objects do.

use std::collections::HashSet;

use super::{Chain, Cluster};
use crate::cluster::seeded::Seeded;
use crate::contract::UpstreamQuery;
use crate::dns::{Name, Owner, Query, RData, Rcode, Record, RecordType, Response};
use crate::stanza::{Served, Shape, Upstream};

/// The weight of every SRV record in a set zone. The kubernetes plugin
/// splits 100 evenly over an answer's records (`100 / n`): the same
/// uniform choice for a client, but a weight that depends on how many
/// records there are, which a transfer could only give by counting a whole
/// service for each page.
pub(super) const SET_SRV_WEIGHT: u16 = 100;

/// What a cluster set makes of a query.
pub(super) enum SetServed {
    /// The answer, and the members whose records it holds (bit per stanza).
    Respond(Response, u64),
    /// No member has the name. `zone` as the client wrote it; `unsynced`
    /// when a member asked has not synced yet.
    NameError {
        zone: Name,
        unsynced: bool,
    },
    Rcode(Rcode),
    Upstream(Vec<UpstreamQuery>),
}

impl<C: Cluster> Chain<C> {
    /// The stanzas of the set of `zone`, in Corefile order.
    pub(super) fn members(&self, zone: &Name) -> Vec<usize> {
        (0..self.stanzas.len()).filter(|&i| self.stanzas[i].in_set(zone)).collect()
    }

    /// The serial of a set zone: the largest of its members' (and of any
    /// other stanza transferring it, see `joint`).
    pub(super) fn set_serial(&self, zone: &Name, members: &[usize]) -> u32 {
        let own = members.iter().map(|&m| self.stanzas[m].serial(zone)).max().unwrap_or(0);
        self.shared_serial(zone).map_or(own, |shared| shared.max(own))
    }

    /// A negative answer for the set, from its first member.
    pub(super) fn set_negative(&self, zone: &Name, members: &[usize], written: &Name, rcode: Rcode) -> Response {
        let mut response = self.stanzas[members[0]].negative(written, rcode);
        self.finish(zone, members, &mut response);
        response
    }

    /// Answers `query`, whose name in lower case is `name`, from the set of
    /// `zone` (lower case).
    pub(super) fn serve_set(
        &self,
        zone: &Name,
        members: &[usize],
        query: &Query,
        name: &Name,
        up: &mut Upstream,
    ) -> SetServed {
        if let Some((member, inner)) = self.own_copy(zone, members, &query.qname) {
            return self.serve_copy(zone, members, member, inner, query, up);
        }
        let unsynced = members.iter().any(|&m| !self.stanzas[m].synced());
        let mut written = None;
        // The first member that has the name decides how it is merged.
        let mut rest = members.iter();
        let mut found = None;
        for &m in rest.by_ref() {
            match self.stanzas[m].serve(query, up, &self.host) {
                Served::NotInZone => {}
                Served::NameError(z) => written = written.or(Some(z)),
                Served::Respond(r) => {
                    found = Some((m, r, self.stanzas[m].shape(name).unwrap_or(Shape::First { ready: true })));
                    break;
                }
                Served::Rcode(rcode) => return SetServed::Rcode(rcode),
                Served::Upstream(needed) => return SetServed::Upstream(needed),
            }
        }
        let Some((first, response, shape)) = found else {
            let zone = written.unwrap_or_else(|| zone.clone());
            return SetServed::NameError { zone, unsynced };
        };
        // Later members whose copy is of the same kind (asked only when the
        // first's answer is not final).
        let rest = rest.as_slice();
        let alike = |kind: Shape| rest.iter().copied().filter(move |&m| self.stanzas[m].shape(name) == Some(kind));
        let (mut response, contributors) = match shape {
            Shape::First { ready: false } => {
                // A later member whose copy has ready endpoints, if any.
                let mut chosen = (response, first);
                for m in alike(Shape::First { ready: true }) {
                    match self.stanzas[m].serve(query, up, &self.host) {
                        Served::Respond(r) => {
                            chosen = (r, m);
                            break;
                        }
                        Served::Rcode(rcode) => return SetServed::Rcode(rcode),
                        Served::Upstream(needed) => return SetServed::Upstream(needed),
                        Served::NotInZone | Served::NameError(_) => {}
                    }
                }
                let (mut response, m) = chosen;
                self.pin_targets(zone, members, m, &mut response);
                (response, 1 << m)
            }
            Shape::First { ready: true } => {
                let mut response = response;
                self.pin_targets(zone, members, first, &mut response);
                (response, 1 << first)
            }
            Shape::Each => {
                let mut merged = Merged::new(self.own_targets(zone, first, response), first, self.seed);
                for m in alike(Shape::Each) {
                    if let Served::Respond(r) = self.stanzas[m].serve(query, up, &self.host) {
                        merged.add(self.own_targets(zone, m, r), m);
                    }
                }
                merged.finish()
            }
        };
        self.finish(zone, members, &mut response);
        SetServed::Respond(response, contributors)
    }

    /// The member whose own copy `qname` names (its cluster label right
    /// under the zone), and the name without that label.
    fn own_copy(&self, zone: &Name, members: &[usize], qname: &Name) -> Option<(usize, Name)> {
        if zone.is_under_arpa() {
            return None;
        }
        let start = qname.suffix_start(zone)?;
        let labels: Vec<&[u8]> = qname.labels_before(start).collect();
        let (last, rest) = labels.split_last()?;
        let member = members
            .iter()
            .copied()
            .find(|&m| self.stanzas[m].cluster().is_some_and(|c| last.eq_ignore_ascii_case(c.as_bytes())))?;
        Some((member, Name::with_prefix(rest, &qname.suffix_from(start)).ok()?))
    }

    /// Answers a member's own copy of a name: its answer alone, its names
    /// written under its cluster label.
    fn serve_copy(
        &self,
        zone: &Name,
        members: &[usize],
        member: usize,
        inner: Name,
        query: &Query,
        up: &mut Upstream,
    ) -> SetServed {
        let stanza = &self.stanzas[member];
        let cluster = stanza.cluster().unwrap_or_default();
        let written = query.qname.suffix_from(query.qname.suffix_start(zone).unwrap_or(0));
        let unsynced = !stanza.synced();
        // The zone's own records (SOA, NS) live at the zone, not at a copy.
        if inner.eq_ignore_case(&written) && matches!(query.qtype, RecordType::Soa | RecordType::Ns) {
            let mut response = stanza.negative(&written, Rcode::NoError);
            self.finish(zone, members, &mut response);
            return SetServed::Respond(response, 1 << member);
        }
        let copy = Query { qname: inner, ..query.clone() };
        match stanza.serve(&copy, up, &self.host) {
            Served::Respond(mut response) => {
                for record in response.answer.iter_mut().chain(response.additional.iter_mut()) {
                    rename(record, |n| copy_name(n, zone, cluster));
                }
                self.finish(zone, members, &mut response);
                SetServed::Respond(response, 1 << member)
            }
            Served::NameError(zone) => SetServed::NameError { zone, unsynced },
            Served::NotInZone => SetServed::NameError { zone: written, unsynced },
            Served::Rcode(rcode) => SetServed::Rcode(rcode),
            Served::Upstream(needed) => SetServed::Upstream(needed),
        }
    }

    /// A member's part of a merged headless answer: SRV targets (and the
    /// additional records at them) written as the member's own copy, which
    /// names the endpoint in that cluster alone. The same endpoint name may
    /// stand for another pod, at another address, in another member (a
    /// StatefulSet's `db-0` in each cluster).
    fn own_targets(&self, zone: &Name, member: usize, mut response: Response) -> Response {
        let Some(cluster) = self.stanzas[member].cluster() else { return response };
        for record in response.answer.iter_mut() {
            if let RData::Srv { target, .. } = &mut record.data {
                *target = copy_name(target, zone, cluster);
            }
        }
        for record in response.additional.iter_mut() {
            if let Owner::Name(owner) = &mut record.owner {
                *owner = copy_name(owner, zone, cluster);
            }
        }
        response
    }

    /// The member a query for `name` (lower case) would take a "first"
    /// answer from: the first whose copy is ready, else the first that has
    /// the name.
    fn first_for(&self, members: &[usize], name: &Name) -> Option<usize> {
        let shapes: Vec<(usize, Shape)> =
            members.iter().filter_map(|&m| self.stanzas[m].shape(name).map(|s| (m, s))).collect();
        shapes.iter().find(|(_, s)| *s == Shape::First { ready: true }).or(shapes.first()).map(|(m, _)| *m)
    }

    /// SRV targets in `member`'s answer that a query would answer from
    /// another member (a port only this member's copy has) are written as
    /// this member's own copy, so that a client reaches the cluster whose
    /// port it was given.
    pub(super) fn pin_targets(&self, zone: &Name, members: &[usize], member: usize, response: &mut Response) {
        pin_targets_in(self, zone, members, member, &mut response.answer, &mut response.additional);
    }

    /// What every answer of a set zone gets: the set's serial in its SOA
    /// records, and every SRV record the set's weight.
    fn finish(&self, zone: &Name, members: &[usize], response: &mut Response) {
        let serial = self.set_serial(zone, members);
        for record in response.answer.iter_mut().chain(response.authority.iter_mut()) {
            if let RData::Soa { serial: s, .. } = &mut record.data {
                *s = serial;
            }
        }
        for record in &mut response.answer {
            if let RData::Srv { weight, .. } = &mut record.data {
                *weight = SET_SRV_WEIGHT;
            }
        }
    }
}

/// The kind of a shape, readiness aside.
pub(super) fn shape_kind(shape: Shape) -> Shape {
    match shape {
        Shape::Each => Shape::Each,
        Shape::First { .. } => Shape::First { ready: true },
    }
}

/// Answers of several members, concatenated in member order without
/// repeats.
struct Merged {
    response: Response,
    contributors: u64,
    /// Keyed with the host's seed: the records come from cluster objects.
    seen: HashSet<Record, Seeded>,
    seen_extra: HashSet<Record, Seeded>,
}

impl Merged {
    fn new(first: Response, member: usize, seed: Seeded) -> Merged {
        let mut merged = Merged {
            response: Response { answer: Vec::new(), additional: Vec::new(), ..first.clone() },
            contributors: 1 << member,
            seen: HashSet::with_hasher(seed),
            seen_extra: HashSet::with_hasher(seed),
        };
        merged.take(first);
        merged
    }

    fn add(&mut self, response: Response, member: usize) {
        if !response.answer.is_empty() {
            self.contributors |= 1 << member;
        }
        self.response.truncated |= response.truncated;
        self.take(response);
    }

    fn take(&mut self, response: Response) {
        for r in response.answer {
            if self.seen.insert(unweighed(&r)) {
                self.response.answer.push(r);
            }
        }
        for r in response.additional {
            if self.seen_extra.insert(r.clone()) {
                self.response.additional.push(r);
            }
        }
    }

    fn finish(mut self) -> (Response, u64) {
        // A NODATA first member gives its SOA; records from others make
        // it an answer.
        if !self.response.answer.is_empty() {
            self.response.authority.clear();
        }
        (self.response, self.contributors)
    }
}

/// A record with any SRV weight set aside, for telling repeats apart:
/// weights are split again over the merged records.
pub(super) fn unweighed(record: &Record) -> Record {
    let mut r = record.clone();
    if let RData::Srv { weight, .. } = &mut r.data {
        *weight = 0;
    }
    r
}

/// Applies `f` to the names a record holds that point into the zone: its
/// owner, SRV and CNAME targets.
pub(super) fn rename(record: &mut Record, f: impl Fn(&Name) -> Name) {
    if let Owner::Name(owner) = &mut record.owner {
        *owner = f(owner);
    }
    match &mut record.data {
        RData::Srv { target, .. } | RData::Cname(target) => *target = f(target),
        _ => {}
    }
}

/// `name` as `cluster`'s own copy: the cluster label between `svc` (or
/// `pod`) and the zone. Names elsewhere (outside the zone, `ns.dns`) stay.
pub(super) fn copy_name(name: &Name, zone: &Name, cluster: &str) -> Name {
    let Some(start) = name.suffix_start(zone) else { return name.clone() };
    let mut labels: Vec<&[u8]> = name.labels_before(start).collect();
    let tree = labels.last().is_some_and(|l| l.eq_ignore_ascii_case(b"svc") || l.eq_ignore_ascii_case(b"pod"));
    if !tree {
        return name.clone();
    }
    labels.push(cluster.as_bytes());
    Name::with_prefix(&labels, &name.suffix_from(start)).unwrap_or_else(|_| name.clone())
}

/// A member's own copy of the zone: `CLUSTER.ZONE`.
pub(super) fn copy_zone(cluster: Option<&str>, zone: &Name) -> Option<Name> {
    Name::with_prefix(&[cluster?], zone).ok()
}

/// `records` without repeats (SRV weights aside).
pub(super) fn distinct(records: Vec<Record>, seed: Seeded) -> Vec<Record> {
    let mut seen = HashSet::with_hasher(seed);
    records.into_iter().filter(|r| seen.insert(unweighed(r))).collect()
}

/// SRV targets in `member`'s records that a query would answer from
/// another member (a port only this member's copy has) are written as this
/// member's own copy, so that a client reaches the cluster whose port it
/// was given; so are the additional records at those targets.
pub(super) fn pin_targets_in<C: Cluster>(
    chain: &Chain<C>,
    zone: &Name,
    members: &[usize],
    member: usize,
    answer: &mut [Record],
    additional: &mut [Record],
) {
    let Some(cluster) = chain.stanzas[member].cluster() else { return };
    let mut moved: Vec<(Name, Name)> = Vec::new();
    for record in answer.iter_mut() {
        let RData::Srv { target, .. } = &mut record.data else { continue };
        if !target.is_subdomain_of(zone) || chain.first_for(members, &target.to_lowercase()) == Some(member) {
            continue;
        }
        let copy = copy_name(target, zone, cluster);
        moved.push((target.clone(), copy.clone()));
        *target = copy;
    }
    for record in additional.iter_mut() {
        if let Owner::Name(owner) = &mut record.owner
            && let Some((_, copy)) = moved.iter().find(|(from, _)| from == owner)
        {
            *owner = copy.clone();
        }
    }
}
