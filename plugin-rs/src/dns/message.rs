//! Reading and writing DNS messages (RFC 1035 §4).
//!
//! The core reads only what it needs: the header and question of a query,
//! and the answer records of replies the host fetched upstream. It writes
//! complete responses. Compression is read everywhere it may occur; on
//! output the only pointer written is to the question name, which owns most
//! records. CoreDNS re-packs every reply with its own compression and
//! truncation, so the core's output only needs to be correct, not minimal.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::name::{MAX_NAME_LEN, Name};

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_DNAME: u16 = 39;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const CLASS_IN: u16 = 1;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_REFUSED: u8 = 5;

const HEADER_LEN: usize = 12;
/// Offset of the question name in every message: right after the header.
const QNAME_POINTER: [u8; 2] = [0xC0, HEADER_LEN as u8];

/// Why bytes could not be read as the DNS message expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Truncated,
    BadPointer,
    BadLabel,
    NameTooLong,
    NotOneQuestion(u16),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("message truncated"),
            WireError::BadPointer => f.write_str("bad compression pointer"),
            WireError::BadLabel => f.write_str("bad label type"),
            WireError::NameTooLong => f.write_str("name longer than 255 octets"),
            WireError::NotOneQuestion(n) => write!(f, "{n} questions, want 1"),
        }
    }
}

/// The parts of a query the core answers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    /// The question name, in the case the client wrote it.
    pub qname: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// The header fields a reply copies from its query, for replies to queries
/// whose question could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
}

/// Reads the header and the single question of a query.
pub fn parse_query(msg: &[u8]) -> Result<Query, (Option<Header>, WireError)> {
    let header = parse_header(msg).ok_or((None, WireError::Truncated))?;
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if qdcount != 1 {
        return Err((Some(header), WireError::NotOneQuestion(qdcount)));
    }
    let (qname, end) = read_name(msg, HEADER_LEN).map_err(|e| (Some(header), e))?;
    let fixed = msg.get(end..end + 4).ok_or((Some(header), WireError::Truncated))?;
    Ok(Query {
        id: header.id,
        opcode: header.opcode,
        recursion_desired: header.recursion_desired,
        checking_disabled: header.checking_disabled,
        qname,
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
    })
}

fn parse_header(msg: &[u8]) -> Option<Header> {
    let h = msg.get(..HEADER_LEN)?;
    Some(Header {
        id: u16::from_be_bytes([h[0], h[1]]),
        opcode: (h[2] >> 3) & 0x0F,
        recursion_desired: h[2] & 0x01 != 0,
        checking_disabled: h[3] & 0x10 != 0,
    })
}

/// Reads a possibly compressed name starting at `start`. Returns the name
/// and the offset just past it in the original position.
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
    let mut wire = Vec::with_capacity(32);
    let mut pos = start;
    let mut end = None;
    // Each pointer must go strictly backwards, which bounds the walk.
    let mut limit = start;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                let len = len as usize;
                let label = msg.get(pos..pos + 1 + len).ok_or(WireError::Truncated)?;
                wire.extend_from_slice(label);
                if wire.len() > MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                pos += 1 + len;
                if len == 0 {
                    let end = end.unwrap_or(pos);
                    return Ok((Name::from_wire_unchecked(wire), end));
                }
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = (((len & 0x3F) as usize) << 8) | low as usize;
                if target >= limit {
                    return Err(WireError::BadPointer);
                }
                end.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(WireError::BadLabel),
        }
    }
}

/// A record copied from another message, kept in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Record data with any names in it decompressed.
    pub rdata: Vec<u8>,
}

/// What the core takes from a reply fetched upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub truncated: bool,
    pub answers: Vec<RawRecord>,
}

/// Reads the answer section of a complete reply.
pub fn parse_reply(msg: &[u8]) -> Result<Reply, WireError> {
    let h = msg.get(..HEADER_LEN).ok_or(WireError::Truncated)?;
    let truncated = h[2] & 0x02 != 0;
    let qdcount = u16::from_be_bytes([h[4], h[5]]);
    let ancount = u16::from_be_bytes([h[6], h[7]]);
    let mut pos = HEADER_LEN;
    for _ in 0..qdcount {
        let (_, end) = read_name(msg, pos)?;
        pos = end + 4;
    }
    let mut answers = Vec::with_capacity(ancount as usize);
    for _ in 0..ancount {
        let (record, end) = read_record(msg, pos)?;
        answers.push(record);
        pos = end;
    }
    Ok(Reply { truncated, answers })
}

fn read_record(msg: &[u8], pos: usize) -> Result<(RawRecord, usize), WireError> {
    let (name, pos) = read_name(msg, pos)?;
    let fixed = msg.get(pos..pos + 10).ok_or(WireError::Truncated)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    let start = pos + 10;
    let end = start + rdlen;
    let raw = msg.get(start..end).ok_or(WireError::Truncated)?;
    let rdata = match rtype {
        // Types whose data may hold compressed names (RFC 3597 §4).
        TYPE_NS | TYPE_CNAME | TYPE_PTR | TYPE_DNAME => read_names(msg, start, end, 0, 1)?,
        TYPE_MX => read_names(msg, start, end, 2, 1)?,
        TYPE_SRV => read_names(msg, start, end, 6, 1)?,
        TYPE_SOA => read_names(msg, start, end, 0, 2)?,
        _ => raw.to_vec(),
    };
    Ok((RawRecord { name, rtype, class, ttl, rdata }, end))
}

/// Copies record data made of `fixed` leading octets, then `names` names,
/// then any trailing octets, decompressing the names.
fn read_names(msg: &[u8], start: usize, end: usize, fixed: usize, names: usize) -> Result<Vec<u8>, WireError> {
    let mut out = msg.get(start..start + fixed).ok_or(WireError::Truncated)?.to_vec();
    let mut pos = start + fixed;
    for _ in 0..names {
        let (name, next) = read_name(msg, pos)?;
        out.extend_from_slice(name.wire());
        pos = next;
    }
    if pos > end {
        return Err(WireError::Truncated);
    }
    out.extend_from_slice(&msg[pos..end]);
    Ok(out)
}

/// Who owns a record in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The question name, as the client wrote it.
    Question,
    Name(Name),
}

/// Record data the core writes.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        rtype: u16,
        class: u16,
        data: Vec<u8>,
    },
}

impl RData {
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Aaaa(_) => TYPE_AAAA,
            RData::Cname(_) => TYPE_CNAME,
            RData::Ns(_) => TYPE_NS,
            RData::Ptr(_) => TYPE_PTR,
            RData::Srv { .. } => TYPE_SRV,
            RData::Txt(_) => TYPE_TXT,
            RData::Soa { .. } => TYPE_SOA,
            RData::Raw { rtype, .. } => *rtype,
        }
    }
}

/// One resource record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A complete response, before encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub rcode: u8,
    pub authoritative: bool,
    pub truncated: bool,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

impl Response {
    /// Encodes the response to `query`, echoing its question.
    pub fn encode(&self, query: &Query) -> Vec<u8> {
        let header = Header {
            id: query.id,
            opcode: query.opcode,
            recursion_desired: query.recursion_desired,
            checking_disabled: query.checking_disabled,
        };
        let mut out = Vec::with_capacity(512);
        write_header(&mut out, &header, self, 1);
        out.extend_from_slice(query.qname.wire());
        out.extend_from_slice(&query.qtype.to_be_bytes());
        out.extend_from_slice(&query.qclass.to_be_bytes());
        for record in self.answer.iter().chain(&self.authority).chain(&self.additional) {
            write_record(&mut out, record);
        }
        out
    }

    /// Encodes a record batch with no question, as zone transfers carry
    /// their records.
    pub fn encode_records(records: &[Record]) -> Vec<u8> {
        let response = Response { answer: records.to_vec(), authoritative: true, ..Response::default() };
        let mut out = Vec::with_capacity(64 * records.len() + HEADER_LEN);
        let header = Header { id: 0, opcode: 0, recursion_desired: false, checking_disabled: false };
        write_header(&mut out, &header, &response, 0);
        for record in records {
            write_record(&mut out, record);
        }
        out
    }
}

/// An answer with no records for a query whose question could not be read.
pub fn encode_error(header: &Header, rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    let response = Response { rcode, ..Response::default() };
    write_header(&mut out, header, &response, 0);
    out
}

fn write_header(out: &mut Vec<u8>, h: &Header, r: &Response, qdcount: u16) {
    // Only a standard query copies RD and CD, as miekg/dns's SetReply does.
    let query = h.opcode == 0;
    let flags1 = 0x80
        | (h.opcode << 3)
        | if r.authoritative { 0x04 } else { 0 }
        | if r.truncated { 0x02 } else { 0 }
        | if query && h.recursion_desired { 0x01 } else { 0 };
    let flags2 = if query && h.checking_disabled { 0x10 } else { 0 } | (r.rcode & 0x0F);
    out.extend_from_slice(&h.id.to_be_bytes());
    out.extend_from_slice(&[flags1, flags2]);
    out.extend_from_slice(&qdcount.to_be_bytes());
    for count in [r.answer.len(), r.authority.len(), r.additional.len()] {
        out.extend_from_slice(&(count as u16).to_be_bytes());
    }
}

fn write_record(out: &mut Vec<u8>, record: &Record) {
    match &record.owner {
        Owner::Question => out.extend_from_slice(&QNAME_POINTER),
        Owner::Name(name) => out.extend_from_slice(name.wire()),
    }
    let class = match &record.data {
        RData::Raw { class, .. } => *class,
        _ => CLASS_IN,
    };
    out.extend_from_slice(&record.data.rtype().to_be_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query as HQuery, ResponseCode};
    use hickory_proto::rr::{Name as HName, RData as HRData, Record as HRecord, RecordType, rdata};
    use hickory_proto::serialize::binary::BinDecodable;

    fn query_bytes(name: &str, rtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(0xBEEF, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(HQuery::query(HName::from_ascii(name).unwrap(), rtype));
        m.to_vec().unwrap()
    }

    #[test]
    fn reads_a_query() {
        let q = parse_query(&query_bytes("Web.Shop.svc.cluster.local.", RecordType::AAAA)).unwrap();
        assert_eq!(q.id, 0xBEEF);
        assert!(q.recursion_desired);
        assert_eq!(q.qname.to_string(), "Web.Shop.svc.cluster.local.");
        assert_eq!(q.qtype, TYPE_AAAA);
        assert_eq!(q.qclass, CLASS_IN);
    }

    #[test]
    fn refuses_malformed_queries() {
        assert_eq!(parse_query(&[0; 5]).unwrap_err().1, WireError::Truncated);
        let mut two = query_bytes("a.", RecordType::A);
        two[5] = 2;
        assert_eq!(parse_query(&two).unwrap_err().1, WireError::NotOneQuestion(2));
        let mut cut = query_bytes("abc.example.", RecordType::A);
        cut.truncate(16);
        assert_eq!(parse_query(&cut).unwrap_err().1, WireError::Truncated);
        // A pointer in the question can only point at itself or forwards.
        let mut looped = query_bytes("a.", RecordType::A);
        looped.splice(12..15, [0xC0, 12]);
        assert_eq!(parse_query(&looped).unwrap_err().1, WireError::BadPointer);
        let mut label = query_bytes("a.", RecordType::A);
        label[12] = 0x41;
        assert_eq!(parse_query(&label).unwrap_err().1, WireError::BadLabel);
    }

    #[test]
    fn encodes_what_hickory_reads() {
        let q = parse_query(&query_bytes("web.shop.svc.Cluster.Local.", RecordType::SRV)).unwrap();
        let zone = Name::parse("Cluster.Local.").unwrap();
        let target = Name::with_prefix(&["web", "shop", "svc"], &zone).unwrap();
        let response = Response {
            rcode: RCODE_NOERROR,
            authoritative: true,
            truncated: false,
            answer: vec![Record::new(
                Owner::Question,
                5,
                RData::Srv { priority: 0, weight: 100, port: 443, target: target.clone() },
            )],
            authority: vec![Record::new(
                Owner::Name(zone.clone()),
                5,
                RData::Soa {
                    mname: Name::with_prefix(&["ns", "dns"], &zone).unwrap(),
                    rname: Name::with_prefix(&["hostmaster"], &zone).unwrap(),
                    serial: 7,
                    refresh: 7200,
                    retry: 1800,
                    expire: 86400,
                    minimum: 5,
                },
            )],
            additional: vec![
                Record::new(Owner::Name(target.clone()), 5, RData::A(Ipv4Addr::new(10, 0, 0, 1))),
                Record::new(Owner::Name(target), 5, RData::Aaaa("fd00::1".parse().unwrap())),
                Record::new(Owner::Question, 28800, RData::Txt(vec![b"1.1.0".to_vec()])),
            ],
        };
        let m = Message::from_bytes(&response.encode(&q)).unwrap();
        assert_eq!(m.metadata.id, 0xBEEF);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(m.metadata.authoritative);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.queries[0].name().to_string(), "web.shop.svc.Cluster.Local.");
        let srv = &m.answers[0];
        assert_eq!(srv.name.to_string(), "web.shop.svc.Cluster.Local.");
        match &srv.data {
            HRData::SRV(s) => {
                assert_eq!((s.priority, s.weight, s.port), (0, 100, 443));
                assert_eq!(s.target.to_string(), "web.shop.svc.Cluster.Local.");
            }
            other => panic!("not SRV: {other:?}"),
        }
        match &m.authorities[0].data {
            HRData::SOA(soa) => {
                assert_eq!(soa.mname.to_string(), "ns.dns.Cluster.Local.");
                assert_eq!(soa.rname.to_string(), "hostmaster.Cluster.Local.");
                assert_eq!((soa.serial, soa.refresh, soa.minimum), (7, 7200, 5));
            }
            other => panic!("not SOA: {other:?}"),
        }
        assert_eq!(m.additionals[0].data, HRData::A(rdata::A::new(10, 0, 0, 1)));
        assert_eq!(m.additionals[1].record_type(), RecordType::AAAA);
        assert_eq!(m.additionals[2].ttl, 28800);
    }

    #[test]
    fn error_replies_and_flags() {
        let mut bytes = query_bytes("x.", RecordType::A);
        bytes[2] |= 0x28; // opcode 5 (UPDATE)
        bytes[3] |= 0x10; // CD
        let header = parse_header(&bytes).unwrap();
        let m = Message::from_bytes(&encode_error(&header, RCODE_FORMERR)).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(m.metadata.op_code, OpCode::Update);
        // Not a standard query: RD and CD are not copied.
        assert!(!m.metadata.recursion_desired);
        assert!(!m.metadata.checking_disabled);
        assert!(m.queries.is_empty());
    }

    #[test]
    fn reads_compressed_replies() {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        let qname = HName::from_ascii("www.example.org.").unwrap();
        m.add_query(HQuery::query(qname.clone(), RecordType::A));
        let target = HName::from_ascii("edge.example.org.").unwrap();
        m.add_answer(HRecord::from_rdata(qname, 60, HRData::CNAME(rdata::CNAME(target.clone()))));
        m.add_answer(HRecord::from_rdata(target, 30, HRData::A(rdata::A::new(192, 0, 2, 7))));
        m.metadata.truncation = true;
        let bytes = m.to_vec().unwrap();
        let reply = parse_reply(&bytes).unwrap();
        assert!(reply.truncated);
        assert_eq!(reply.answers.len(), 2);
        assert_eq!(reply.answers[0].name.to_string(), "www.example.org.");
        assert_eq!(reply.answers[0].rdata, Name::parse("edge.example.org.").unwrap().wire());
        assert_eq!(reply.answers[1].rdata, vec![192, 0, 2, 7]);
        assert_eq!(reply.answers[1].ttl, 30);
        // Copied records re-encode to what hickory reads back.
        let q = parse_query(&query_bytes("www.example.org.", RecordType::A)).unwrap();
        let response = Response { answer: reply.answers.iter().map(Record::from_raw).collect(), ..Response::default() };
        let back = Message::from_bytes(&response.encode(&q)).unwrap();
        assert_eq!(back.answers[0].data, HRData::CNAME(rdata::CNAME(HName::from_ascii("edge.example.org.").unwrap())));
        assert_eq!(parse_reply(&bytes[..bytes.len() - 3]), Err(WireError::Truncated));
    }
}
