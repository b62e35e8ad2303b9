//! Zones several stanzas serve: a fallthrough chain's, a cluster set's, or
//! both. Their transfers list what queries reach, and their serial moves
//! with any of the stanzas.
//!
//! A zone one stanza serves is transferred by the stanza itself, with the
//! kubernetes plugin's contents (`stanza::transfer`). With more, queries
//! walk them in Corefile order: a plain stanza answers a name it has and
//! passes on a miss its `fallthrough` covers; a cluster set answers as one
//! (see `set`). The transfer walks them the same way service by service,
//! over the union of their services in (namespace, service) order: a
//! service's records are those of the first stanza, or set, that has it
//! and that the walk reaches, and a set's per-cluster copies are reached
//! past any plain stanza that passes them on.
//!
//! Every page costs about its budget of records whatever the size of a
//! service: records are listed endpoint by endpoint from where the last
//! page stopped, and a set's merged records leave out an address an
//! earlier member lists through the index of addresses, not a scan.
//!
//! The zone's serial is the largest of its stanzas': a change in any of
//! them changes what is transferred, so it changes the SOA secondaries
//! compare (in answers and transfers alike) and sends NOTIFY.

use std::net::IpAddr;

use super::set::{SET_SRV_WEIGHT, copy_name, copy_zone, distinct, pin_targets_in, shape_kind};
use super::{Chain, Cluster, TRANSFER_BATCH};
use crate::contract::TransferPage;
use crate::dns::{Name, Owner, RData, Record, Response};
use crate::stanza::{Cursor, Position, Shape, Style, serial_not_older};

/// A step of the walk: one plain stanza, or a whole cluster set.
enum Step {
    One(usize),
    Set(Vec<usize>),
}

/// Parts of a service's records, in transfer order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// A plain stanza's own listing.
    Plain = 0,
    /// A set's merged records of a headless service, member by member.
    Each = 1,
    /// A set's merged records of any other service (a few records).
    First = 2,
    /// Each member's own copy, under its cluster label.
    Copies = 3,
}

/// Where a page resumes inside a service: the part, the member (index in
/// the set, or the plain stanza's), and for listings the slice and
/// endpoint, else a count of records given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resume {
    part: Part,
    member: usize,
    slice: String,
    address: u32,
}

impl Resume {
    fn start() -> Resume {
        Resume { part: Part::Plain, member: 0, slice: String::new(), address: 0 }
    }

    /// Written into a cursor's slice field as `PART.MEMBER.SLICE`: the
    /// cursor layout is shared with one-stanza transfers.
    fn position(&self, key: &(String, String)) -> Position {
        let slice = format!("{}.{}.{}", self.part as u8, self.member, self.slice);
        Position { namespace: key.0.clone(), service: key.1.clone(), slice, address: self.address }
    }

    fn from_position(p: &Position) -> Option<Resume> {
        let mut parts = p.slice.splitn(3, '.');
        let part = match parts.next()? {
            "0" => Part::Plain,
            "1" => Part::Each,
            "2" => Part::First,
            "3" => Part::Copies,
            _ => return None,
        };
        let member = parts.next()?.parse().ok()?;
        Some(Resume { part, member, slice: parts.next()?.to_string(), address: p.address })
    }
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
        if self.shared_zones.is_empty() {
            return;
        }
        for record in response.answer.iter_mut().chain(response.authority.iter_mut()) {
            if let (Owner::Name(zone), RData::Soa { serial, .. }) = (&record.owner, &mut record.data)
                && let Some(zone) = self.shared_zones.iter().find(|z| z.eq_ignore_case(zone))
                && let Some(shared) = self.shared_serial(zone)
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
    /// serve it; None when one plain stanza does.
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
        let (serial_used, mut from, mut resume) = if cursor.is_empty() {
            let first = head.transfer_head(zone, ours, &self.host);
            if serial != 0 && serial_not_older(serial, ours) {
                return Ok(page(first.into_iter().take(1).collect(), None));
            }
            records.extend(first);
            (ours, (String::new(), String::new()), Resume::start())
        } else {
            let c = Cursor::decode(cursor, zone)?;
            let resume = Resume::from_position(&c.position)
                .ok_or_else(|| format!("transfer of {zone}: not a cursor this core gave (position)"))?;
            (c.serial, (c.position.namespace, c.position.service), resume)
        };
        loop {
            let next = serving.iter().filter_map(|&i| self.stanzas[i].listed_from((&from.0, &from.1))).min();
            let Some(key) = next else {
                records.extend(head.transfer_head(zone, serial_used, &self.host).into_iter().take(1));
                return Ok(page(records, None));
            };
            if let Some(stopped) = self.list(zone, steps, &key, &resume, budget, &mut records) {
                let position = stopped.position(&key);
                let next = Cursor { zone: zone.clone(), serial: serial_used, position }.encode();
                return Ok(page(records, Some(next)));
            }
            // The smallest name after this service's.
            from = (key.0, format!("{}\0", key.1));
            resume = Resume::start();
        }
    }

    /// Lists one service's records from `resume` on into `out`, up to
    /// `budget` records in all; where it stopped, if it did.
    fn list(
        &self,
        zone: &Name,
        steps: &[Step],
        key: &(String, String),
        resume: &Resume,
        budget: usize,
        out: &mut Vec<Record>,
    ) -> Option<Resume> {
        let Ok(service) = Name::with_prefix(&[key.1.as_str(), key.0.as_str(), "svc"], zone) else { return None };
        let plain = Style { names: zone, targets: None, listed: None, service_srv: false, weight: None };
        // The step whose records these are: the first that has the
        // service, past the ones passing its name on.
        let mut passed = true;
        let mut owner = None;
        for step in steps {
            let has = match step {
                Step::One(i) => self.stanzas[*i].list_service(&plain, &key.0, &key.1, ("", 0), 0).is_some(),
                Step::Set(members) => members.iter().any(|&m| self.stanzas[m].shape(&service).is_some()),
            };
            if has {
                owner = Some(step);
                break;
            }
            passed = match step {
                Step::One(i) => self.stanzas[*i].falls_through(&service),
                Step::Set(members) => members.iter().all(|&m| self.stanzas[m].falls_through(&service)),
            };
            if !passed {
                break;
            }
        }
        let owner = owner.filter(|_| passed);
        if let Some(Step::One(i)) = owner
            && resume.part == Part::Plain
        {
            let from = (resume.slice.as_str(), resume.address);
            let room = budget.saturating_sub(out.len());
            let listed = self.stanzas[*i].list_service(&plain, &key.0, &key.1, from, room)?;
            out.extend(listed.records);
            if let Some((slice, address)) = listed.stop {
                return Some(Resume { part: Part::Plain, member: *i, slice, address });
            }
        }
        let members = steps.iter().find_map(|s| if let Step::Set(m) = s { Some(m) } else { None })?;
        match owner {
            Some(Step::Set(_)) => self.list_set(zone, members, key, &service, resume, budget, out),
            // Past plain stanzas that have the service, a member's own copy
            // is still reached when they pass its name on.
            _ => {
                let copy = |m: usize| self.stanzas[m].cluster().map(|c| copy_name(&service, zone, c));
                let reached = steps.iter().take_while(|s| matches!(s, Step::One(_))).all(|s| match s {
                    Step::One(i) => members.iter().filter_map(|&m| copy(m)).all(|n| self.stanzas[*i].falls_through(&n)),
                    Step::Set(_) => true,
                });
                if !reached {
                    return None;
                }
                let resume =
                    if resume.part < Part::Copies { &Resume { part: Part::Copies, ..Resume::start() } } else { resume };
                self.list_copies(zone, members, key, resume, budget, out)
            }
        }
    }

    /// A cluster set's records of one service: merged, then each member's
    /// own copy.
    #[allow(clippy::too_many_arguments)]
    fn list_set(
        &self,
        zone: &Name,
        members: &[usize],
        key: &(String, String),
        service: &Name,
        resume: &Resume,
        budget: usize,
        out: &mut Vec<Record>,
    ) -> Option<Resume> {
        let shapes: Vec<Option<Shape>> = members.iter().map(|&m| self.stanzas[m].shape(service)).collect();
        let kind = shapes.iter().flatten().map(|s| shape_kind(*s)).next()?;
        let merged = if kind == Shape::Each { Part::Each } else { Part::First };
        let mut resume = resume.clone();
        if resume.part < merged {
            resume = Resume { part: merged, ..Resume::start() };
        }
        if resume.part == Part::Each {
            if let Some(stopped) = self.list_each(zone, members, &shapes, key, &resume, budget, out) {
                return Some(stopped);
            }
            resume = Resume { part: Part::Copies, ..Resume::start() };
        }
        if resume.part == Part::First {
            let records = self.first_records(zone, members, &shapes, key);
            let given = resume.address as usize;
            let room = budget.saturating_sub(out.len());
            out.extend(records.iter().skip(given).take(room).cloned());
            if records.len() > given + room {
                return Some(Resume {
                    part: Part::First,
                    member: 0,
                    slice: String::new(),
                    address: (given + room) as u32,
                });
            }
            resume = Resume { part: Part::Copies, ..Resume::start() };
        }
        self.list_copies(zone, members, key, &resume, budget, out)
    }

    /// The merged records of a headless service: member by member, each
    /// endpoint's, leaving out an address an earlier member lists at the
    /// same name; SRV targets are the member's own copy of the endpoint.
    #[allow(clippy::too_many_arguments)]
    fn list_each(
        &self,
        zone: &Name,
        members: &[usize],
        shapes: &[Option<Shape>],
        key: &(String, String),
        resume: &Resume,
        budget: usize,
        out: &mut Vec<Record>,
    ) -> Option<Resume> {
        let mut from = (resume.slice.as_str(), resume.address);
        for (k, &m) in members.iter().enumerate().skip(resume.member) {
            if shapes[k] != Some(Shape::Each) {
                continue;
            }
            let earlier: Vec<usize> = (0..k).filter(|&j| shapes[j] == Some(Shape::Each)).map(|j| members[j]).collect();
            let listed = |ip: IpAddr, name: &str| {
                let held = |endpoint| earlier.iter().any(|&j| self.stanzas[j].holds(&key.0, &key.1, ip, endpoint));
                (held(None), held(Some(name)))
            };
            let Some(targets) = copy_zone(self.stanzas[m].cluster(), zone) else { continue };
            let style = Style {
                names: zone,
                targets: Some(&targets),
                listed: Some(&listed),
                service_srv: true,
                weight: Some(SET_SRV_WEIGHT),
            };
            if let Some(stopped) = self.list_member(m, &style, key, from, budget, out) {
                return Some(Resume { part: Part::Each, member: k, slice: stopped.0, address: stopped.1 });
            }
            from = ("", 0);
        }
        None
    }

    /// The merged records of a service other than headless (a few): each
    /// owner name's from the member a query for it answers from.
    fn first_records(
        &self,
        zone: &Name,
        members: &[usize],
        shapes: &[Option<Shape>],
        key: &(String, String),
    ) -> Vec<Record> {
        let style = Style { names: zone, targets: None, listed: None, service_srv: true, weight: Some(SET_SRV_WEIGHT) };
        let copies: Vec<(usize, Vec<Record>, Shape)> = members
            .iter()
            .zip(shapes)
            .filter_map(|(&m, shape)| {
                let shape = (*shape).filter(|s| shape_kind(*s) != Shape::Each)?;
                let listed = self.stanzas[m].list_service(&style, &key.0, &key.1, ("", 0), usize::MAX)?;
                Some((m, distinct(listed.records, self.seed), shape))
            })
            .collect();
        let mut owners: Vec<&Owner> = Vec::new();
        for (_, records, _) in &copies {
            for r in records {
                if !owners.contains(&&r.owner) {
                    owners.push(&r.owner);
                }
            }
        }
        let mut out = Vec::new();
        for owner in owners {
            let has = |c: &&(usize, Vec<Record>, Shape)| c.1.iter().any(|r| r.owner == *owner);
            let ready = copies.iter().filter(has).find(|c| c.2 == Shape::First { ready: true });
            let Some((m, records, _)) = ready.or(copies.iter().find(has)) else { continue };
            let mut answer: Vec<Record> = records.iter().filter(|r| r.owner == *owner).cloned().collect();
            pin_targets_in(self, zone, members, *m, &mut answer, &mut []);
            out.extend(answer);
        }
        out
    }

    /// Each member's own copy of a service, under its cluster label.
    fn list_copies(
        &self,
        zone: &Name,
        members: &[usize],
        key: &(String, String),
        resume: &Resume,
        budget: usize,
        out: &mut Vec<Record>,
    ) -> Option<Resume> {
        let mut from = (resume.slice.as_str(), resume.address);
        for (k, &m) in members.iter().enumerate().skip(resume.member) {
            let Some(names) = copy_zone(self.stanzas[m].cluster(), zone) else { continue };
            let style =
                Style { names: &names, targets: None, listed: None, service_srv: true, weight: Some(SET_SRV_WEIGHT) };
            if let Some(stopped) = self.list_member(m, &style, key, from, budget, out) {
                return Some(Resume { part: Part::Copies, member: k, slice: stopped.0, address: stopped.1 });
            }
            from = ("", 0);
        }
        None
    }
}

impl<C: Cluster> Chain<C> {
    /// Lists one member's records of a service from `from` into `out`, up
    /// to `budget` records in all; the slice and endpoint it stopped
    /// before, if it did.
    fn list_member(
        &self,
        member: usize,
        style: &Style,
        key: &(String, String),
        from: (&str, u32),
        budget: usize,
        out: &mut Vec<Record>,
    ) -> Option<(String, u32)> {
        let room = budget.saturating_sub(out.len());
        let listed = self.stanzas[member].list_service(style, &key.0, &key.1, from, room)?;
        out.extend(listed.records);
        listed.stop
    }
}

fn page(records: Vec<Record>, next: Option<Vec<u8>>) -> TransferPage {
    TransferPage { messages: Response::encode_records(&records, TRANSFER_BATCH), next }
}
