//! Resource records: the ones the core writes, and the ones it copies
//! from replies fetched upstream.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::name::Name;
use super::rtype::{CLASS_IN, RecordType};
use super::wire::{HEADER_LEN, WireError, read_name};

/// Offset of the question name in every message: right after the header.
const QNAME_POINTER: [u8; 2] = [0xC0, HEADER_LEN as u8];

/// A record copied from another message, kept in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub name: Name,
    pub rtype: RecordType,
    pub class: u16,
    pub ttl: u32,
    /// Record data with any names in it decompressed.
    pub rdata: Vec<u8>,
}

/// Reads one record at `pos`; returns it and the offset past it.
pub(super) fn read_record(msg: &[u8], pos: usize) -> Result<(RawRecord, usize), WireError> {
    let (name, pos) = read_name(msg, pos)?;
    let fixed = msg.get(pos..pos + 10).ok_or(WireError::Truncated)?;
    let rtype = RecordType::from(u16::from_be_bytes([fixed[0], fixed[1]]));
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    let start = pos + 10;
    let end = start + rdlen;
    let raw = msg.get(start..end).ok_or(WireError::Truncated)?;
    // Type 0 is reserved, and OPT, TKEY, TSIG and the query-only types
    // never hold data in an answer (RFC 6895 §3.1).
    if matches!(u16::from(rtype), 0 | 41 | 249..=255) {
        return Err(WireError::BadRdata);
    }
    let rdata = match rtype {
        // Types whose data may hold compressed names (RFC 3597 §4).
        RecordType::Ns | RecordType::Cname | RecordType::Ptr | RecordType::Dname => {
            read_names(msg, start, end, 0, 1, 0)?
        }
        RecordType::Mx => read_names(msg, start, end, 2, 1, 0)?,
        RecordType::Srv => read_names(msg, start, end, 6, 1, 0)?,
        RecordType::Soa => read_names(msg, start, end, 0, 2, 20)?,
        RecordType::A if rdlen != 4 => return Err(WireError::BadRdata),
        RecordType::Aaaa if rdlen != 16 => return Err(WireError::BadRdata),
        RecordType::Txt if !strings_fill(raw) => return Err(WireError::BadRdata),
        _ => raw.to_vec(),
    };
    Ok((RawRecord { name, rtype, class, ttl, rdata }, end))
}

/// Copies record data made of `fixed` leading octets, then `names` names,
/// then exactly `tail` octets, decompressing the names. Data of another
/// length is refused: copied as it is, it would make the core's own
/// answer unreadable.
fn read_names(
    msg: &[u8],
    start: usize,
    end: usize,
    fixed: usize,
    names: usize,
    tail: usize,
) -> Result<Vec<u8>, WireError> {
    let mut out = msg.get(start..start + fixed).ok_or(WireError::Truncated)?.to_vec();
    let mut pos = start + fixed;
    for _ in 0..names {
        let (name, next) = read_name(msg, pos)?;
        out.extend_from_slice(name.wire());
        pos = next;
    }
    if pos + tail != end {
        return Err(WireError::BadRdata);
    }
    out.extend_from_slice(&msg[pos..end]);
    Ok(out)
}

/// Whether TXT data is one or more character strings filling it exactly.
fn strings_fill(data: &[u8]) -> bool {
    let mut at = 0;
    while at < data.len() {
        at += 1 + usize::from(data[at]);
    }
    !data.is_empty() && at == data.len()
}

/// Who owns a record in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The question name, as the client wrote it.
    Question,
    Name(Name),
}

/// Record data the core writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(Name),
    Ns(Name),
    Ptr(Name),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Txt(Vec<Vec<u8>>),
    Soa {
        mname: Name,
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    /// Data copied from an upstream reply.
    Raw {
        rtype: RecordType,
        class: u16,
        data: Vec<u8>,
    },
}

impl RData {
    /// An A or AAAA record's data, by the address's family.
    pub fn address(ip: IpAddr) -> RData {
        match ip {
            IpAddr::V4(v4) => RData::A(v4),
            IpAddr::V6(v6) => RData::Aaaa(v6),
        }
    }

    pub fn rtype(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::Aaaa,
            RData::Cname(_) => RecordType::Cname,
            RData::Ns(_) => RecordType::Ns,
            RData::Ptr(_) => RecordType::Ptr,
            RData::Srv { .. } => RecordType::Srv,
            RData::Txt(_) => RecordType::Txt,
            RData::Soa { .. } => RecordType::Soa,
            RData::Raw { rtype, .. } => *rtype,
        }
    }
}

/// One resource record to write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub owner: Owner,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    pub fn new(owner: Owner, ttl: u32, data: RData) -> Record {
        Record { owner, ttl, data }
    }

    /// A record copied from an upstream reply, owner and all.
    pub fn from_raw(raw: &RawRecord) -> Record {
        Record {
            owner: Owner::Name(raw.name.clone()),
            ttl: raw.ttl,
            data: RData::Raw { rtype: raw.rtype, class: raw.class, data: raw.rdata.clone() },
        }
    }
}

/// Appends the record in wire form.
pub(super) fn write_record(out: &mut Vec<u8>, record: &Record) {
    match &record.owner {
        Owner::Question => out.extend_from_slice(&QNAME_POINTER),
        Owner::Name(name) => out.extend_from_slice(name.wire()),
    }
    let class = match &record.data {
        RData::Raw { class, .. } => *class,
        _ => CLASS_IN,
    };
    out.extend_from_slice(&u16::from(record.data.rtype()).to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&record.ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    write_rdata(out, &record.data);
    let rdlen = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
}

fn write_rdata(out: &mut Vec<u8>, data: &RData) {
    match data {
        RData::A(ip) => out.extend_from_slice(&ip.octets()),
        RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
        RData::Cname(name) | RData::Ns(name) | RData::Ptr(name) => out.extend_from_slice(name.wire()),
        RData::Srv { priority, weight, port, target } => {
            out.extend_from_slice(&priority.to_be_bytes());
            out.extend_from_slice(&weight.to_be_bytes());
            out.extend_from_slice(&port.to_be_bytes());
            out.extend_from_slice(target.wire());
        }
        RData::Txt(strings) => {
            for s in strings {
                out.push(s.len() as u8);
                out.extend_from_slice(s);
            }
        }
        RData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
            out.extend_from_slice(mname.wire());
            out.extend_from_slice(rname.wire());
            for v in [serial, refresh, retry, expire, minimum] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        RData::Raw { data, .. } => out.extend_from_slice(data),
    }
}
