//! Zones several stanzas serve: a fallthrough chain's, a cluster set's, or
//! both. A transfer of such a zone holds what queries give, and its serial
//! moves with any of the stanzas.
//!
//! A zone one stanza serves is transferred by the stanza itself, with the
//! kubernetes plugin's contents (`stanza::transfer`). With more, a query
//! walks them in Corefile order: a plain stanza answers a name it has and
//! passes on a miss its `fallthrough` covers; a cluster set answers as one
//! (see `set`). The transfer walks them the same way for each name: over
//! the union of their services in (namespace, service) order, each owner
//! name's records are those of the first stanza, or set, that has it and
//! that the walk reaches.
//!
//! The zone's serial is the largest of its stanzas': a change in any of
//! them changes the transfer, so it changes the SOA that secondaries
//! compare, in answers and transfers alike, and sends NOTIFY.

use std::collections::HashSet;

use super::set::{copy_name, rename, reweigh_by_owner, shape_kind, unweighed};
use super::{Chain, Cluster, TRANSFER_BATCH};
use crate::contract::TransferPage;
use crate::dns::{Name, Owner, RData, Record, Response};
use crate::stanza::{Cursor, Position, Shape, serial_not_older};

/// A step of the walk: one plain stanza, or a whole cluster set.
enum Step {
    One(usize),
    Set(Vec<usize>),
}

impl<C: Cluster> Chain<C> {
    /// The stanzas transferring `zone` (lower case), in Corefile order.
    fn transferring(&self, zone: &Name) -> Vec<usize> {
        (0..self.stanzas.len()).filter(|&i| self.stanzas[i].transfers(zone)).collect()
    }

    /// The serial of `zone` (lower case) when several stanzas transfer it:
    /// the largest of theirs.
    pub(super) fn shared_serial(&self, zone: &Name) -> Option<u32> {
        let serving = self.transferring(zone);
        (serving.len() > 1).then(|| serving.iter().map(|&i| self.stanzas[i].serial(zone)).max().unwrap_or(0))
    }

    /// Gives the SOA records of an answer from a zone several stanzas
    /// serve the zone's shared serial.
    pub(super) fn share_serials(&self, response: &mut Response) {
        for record in response.answer.iter_mut().chain(response.authority.iter_mut()) {
            // Counted in the client's case first: most zones have one
            // stanza, and a lower-case copy is an allocation in the guest.
            if let (Owner::Name(zone), RData::Soa { serial, .. }) = (&record.owner, &mut record.data)
                && self.stanzas.iter().filter(|s| s.transfers(zone)).nth(1).is_some()
                && let Some(shared) = self.shared_serial(&zone.to_lowercase())
            {
                *serial = shared;
            }
        }
    }

    /// The walk of `zone`'s transfer, or None when one plain stanza (or
    /// none) transfers it.
    fn steps(&self, zone: &Name) -> Option<Vec<Step>> {
        let serving = self.transferring(zone);
        let mut steps = Vec::new();
        for &i in &serving {
            if !self.stanzas[i].in_set(zone) {
                steps.push(Step::One(i));
            } else if !steps.iter().any(|s| matches!(s, Step::Set(_))) {
                steps.push(Step::Set(self.members(zone)));
            }
        }
        (serving.len() > 1 || matches!(steps.first(), Some(Step::Set(_)))).then_some(steps)
    }

    /// A page of the transfer of `zone` (lower case) when several stanzas
    /// serve it; None when one plain stanza does. A page ends after
    /// `budget` records; the cursor names the next service and how many of
    /// its records were given. A service's records are gathered again for
    /// each page it spans, which a headless service of many thousands of
    /// endpoints makes slow (README, "Cluster sets").
    pub(super) fn joint_transfer(
        &self,
        zone: &Name,
        serial: u32,
        cursor: &[u8],
        budget: usize,
    ) -> Option<Result<TransferPage, String>> {
        let steps = self.steps(zone)?;
        Some(self.walk_transfer(zone, &steps, serial, cursor, budget))
    }

    fn walk_transfer(
        &self,
        zone: &Name,
        steps: &[Step],
        serial: u32,
        cursor: &[u8],
        budget: usize,
    ) -> Result<TransferPage, String> {
        let serving = self.transferring(zone);
        let ours = serving.iter().map(|&i| self.stanzas[i].serial(zone)).max().unwrap_or(0);
        let head = &self.stanzas[serving[0]];
        let mut records = Vec::new();
        let (serial_used, mut from, mut skip) = if cursor.is_empty() {
            let first = head.transfer_head(zone, ours, &self.host);
            if serial != 0 && serial_not_older(serial, ours) {
                return Ok(page(first.into_iter().take(1).collect(), None));
            }
            records.extend(first);
            (ours, (String::new(), String::new()), 0)
        } else {
            let c = Cursor::decode(cursor, zone)?;
            (c.serial, (c.position.namespace, c.position.service), c.position.address as usize)
        };
        loop {
            let next = serving.iter().filter_map(|&i| self.stanzas[i].listed_from((&from.0, &from.1))).min();
            let Some(key) = next else {
                records.extend(head.transfer_head(zone, serial_used, &self.host).into_iter().take(1));
                return Ok(page(records, None));
            };
            let unit = self.service_records(zone, steps, &key);
            let room = budget.saturating_sub(records.len());
            let left = unit.len().saturating_sub(skip);
            records.extend(unit.into_iter().skip(skip).take(room));
            if left > room {
                let address = (skip + room) as u32;
                let position = Position { namespace: key.0, service: key.1, slice: String::new(), address };
                let next = Cursor { zone: zone.clone(), serial: serial_used, position }.encode();
                return Ok(page(records, Some(next)));
            }
            // The smallest name after this service's.
            from = (key.0, format!("{}\0", key.1));
            skip = 0;
        }
    }

    /// One service's records: each owner name's from the first step of the
    /// walk that has it.
    fn service_records(&self, zone: &Name, steps: &[Step], key: &(String, String)) -> Vec<Record> {
        let found: Vec<Vec<Record>> = steps
            .iter()
            .map(|step| match step {
                Step::One(i) => distinct(self.stanzas[*i].service_records(zone, &key.0, &key.1).unwrap_or_default()),
                Step::Set(members) => self.set_records(zone, members, key),
            })
            .collect();
        if let [only] = found.as_slice() {
            return only.clone();
        }
        let mut out = Vec::new();
        for owner in owners(found.iter().flatten()) {
            for (step, records) in steps.iter().zip(&found) {
                let here: Vec<&Record> = records.iter().filter(|r| r.owner == owner).collect();
                if !here.is_empty() {
                    out.extend(here.into_iter().cloned());
                    break;
                }
                let Owner::Name(name) = &owner else { break };
                let passes = match step {
                    Step::One(i) => self.stanzas[*i].falls_through(name),
                    Step::Set(members) => members.iter().all(|&m| self.stanzas[m].falls_through(name)),
                };
                if !passes {
                    break;
                }
            }
        }
        out
    }

    /// One service's records in a cluster set: the merged ones, then each
    /// member's own copy.
    fn set_records(&self, zone: &Name, members: &[usize], key: &(String, String)) -> Vec<Record> {
        let Ok(service) = Name::with_prefix(&[key.1.as_str(), key.0.as_str(), "svc"], zone) else { return Vec::new() };
        let copies: Vec<Copy> = members
            .iter()
            .filter_map(|&m| {
                let records = self.stanzas[m].service_records(zone, &key.0, &key.1)?;
                Some(Copy { member: m, records, shape: self.stanzas[m].shape(&service)? })
            })
            .collect();
        let Some(kind) = copies.first().map(|c| shape_kind(c.shape)) else { return Vec::new() };
        let alike: Vec<&Copy> = copies.iter().filter(|c| shape_kind(c.shape) == kind).collect();
        let mut out = if kind == Shape::Each {
            distinct(alike.iter().flat_map(|c| c.records.iter()).cloned().collect())
        } else {
            distinct(self.first_records(zone, members, &alike))
        };
        reweigh_by_owner(&mut out);
        for copy in &copies {
            let Some(cluster) = self.stanzas[copy.member].cluster() else { continue };
            let mut own = distinct(copy.records.clone());
            for record in &mut own {
                rename(record, |n| copy_name(n, zone, cluster));
            }
            reweigh_by_owner(&mut own);
            out.extend(own);
        }
        out
    }

    /// For a "first" service of a set: each owner name's records from the
    /// member a query for it answers from, SRV targets pinned as answers
    /// pin them.
    fn first_records(&self, zone: &Name, members: &[usize], copies: &[&Copy]) -> Vec<Record> {
        let mut out = Vec::new();
        for owner in owners(copies.iter().flat_map(|c| c.records.iter())) {
            let has = |c: &&&Copy| c.records.iter().any(|r| r.owner == owner);
            let ready = copies.iter().filter(has).find(|c| c.shape == Shape::First { ready: true });
            let Some(chosen) = ready.or(copies.iter().find(has)) else { continue };
            let answer = chosen.records.iter().filter(|r| r.owner == owner).cloned().collect();
            let mut response = Response { answer, ..Response::default() };
            self.pin_targets(zone, members, chosen.member, &mut response);
            out.extend(response.answer);
        }
        out
    }
}

/// One member's records of a service, and how its copy merges.
struct Copy {
    member: usize,
    records: Vec<Record>,
    shape: Shape,
}

/// `records` without repeats (SRV weights aside): a stanza's transfer may
/// list a record once per EndpointSlice or port holding it, where a query
/// answers it once.
fn distinct(records: Vec<Record>) -> Vec<Record> {
    let mut seen = HashSet::new();
    records.into_iter().filter(|r| seen.insert(unweighed(r))).collect()
}

/// The owner names of `records`, each once, in order of first appearance.
fn owners<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<Owner> {
    let mut seen = HashSet::new();
    records.filter(|r| seen.insert(&r.owner)).map(|r| r.owner.clone()).collect()
}

fn page(records: Vec<Record>, next: Option<Vec<u8>>) -> TransferPage {
    TransferPage { messages: Response::encode_records(&records, TRANSFER_BATCH), next }
}
