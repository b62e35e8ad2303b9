//! Reading and writing DNS messages (RFC 1035 §4).
//!
//! The core reads only what it needs: the header and question of a query,
//! and the answer records of replies the host fetched upstream. It writes
//! complete responses. Compression is read everywhere it may occur; on
//! output the only pointer written is to the question name, which owns most
//! records. CoreDNS re-packs every reply with its own compression and
//! truncation, so the core's output only needs to be correct, not minimal.

use super::name::Name;
use super::rcode::Rcode;
use super::record::{RawRecord, Record, read_record, write_record};
use super::rtype::RecordType;
use super::wire::{HEADER_LEN, WireError, read_name};

/// The parts of a query the core answers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    /// The question name, in the case the client wrote it.
    pub qname: Name,
    pub qtype: RecordType,
    pub qclass: u16,
}

impl Query {
    /// Whether the message is a standard query (opcode QUERY), the only
    /// kind the core answers.
    pub fn is_standard(&self) -> bool {
        self.opcode == OPCODE_QUERY
    }
}

/// The opcode of a standard query (RFC 1035 §4.1.1).
pub const OPCODE_QUERY: u8 = 0;

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
        qtype: RecordType::from(u16::from_be_bytes([fixed[0], fixed[1]])),
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

/// A complete response, before encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub rcode: Rcode,
    pub authoritative: bool,
    pub truncated: bool,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// Longest DNS message: over TCP its length goes in 16 bits (RFC 1035
/// §4.2.2), and a UDP datagram cannot hold more either.
pub const MAX_MESSAGE_LEN: usize = 65_535;

impl Response {
    /// Encodes the response to `query`, echoing its question. Records that
    /// would take the message past `MAX_MESSAGE_LEN` are left out, with
    /// all after them, and TC is set: as miekg/dns's `Msg.Truncate` cuts an
    /// oversized reply, except that the cut is made before CoreDNS
    /// compresses the message, so it may hold fewer records than it could.
    pub fn encode(&self, query: &Query) -> Vec<u8> {
        let header = Header {
            id: query.id,
            opcode: query.opcode,
            recursion_desired: query.recursion_desired,
            checking_disabled: query.checking_disabled,
        };
        let mut out = Vec::with_capacity(512);
        out.resize(HEADER_LEN, 0);
        out.extend_from_slice(query.qname.wire());
        out.extend_from_slice(&u16::from(query.qtype).to_be_bytes());
        out.extend_from_slice(&query.qclass.to_be_bytes());
        let sections = [&self.answer[..], &self.authority[..], &self.additional[..]];
        let (counts, cut) = write_sections(&mut out, sections);
        write_header(&mut out, &header, self, cut, [1, counts[0], counts[1], counts[2]]);
        out
    }

    /// Encodes records with no question, as zone transfers carry them: in
    /// messages of at most `batch` records and `MAX_MESSAGE_LEN` octets.
    pub fn encode_records(records: &[Record], batch: usize) -> Vec<Vec<u8>> {
        let response = Response { authoritative: true, ..Response::default() };
        let header = Header { id: 0, opcode: 0, recursion_desired: false, checking_disabled: false };
        let mut messages = Vec::new();
        let mut rest = records;
        while !rest.is_empty() {
            let mut out = vec![0; HEADER_LEN];
            let (counts, _) = write_sections(&mut out, [&rest[..batch.max(1).min(rest.len())], &[], &[]]);
            // A record too big for any message (impossible for names of at
            // most 255 octets) is dropped rather than looped on.
            let written = usize::from(counts[0]).max(1);
            write_header(&mut out, &header, &response, false, [0, counts[0], 0, 0]);
            messages.push(out);
            rest = &rest[written..];
        }
        messages
    }
}

/// Appends the sections' records while the message stays within
/// `MAX_MESSAGE_LEN`. Returns how many of each were written, and whether
/// any was left out.
fn write_sections(out: &mut Vec<u8>, sections: [&[Record]; 3]) -> ([u16; 3], bool) {
    let mut counts = [0u16; 3];
    for (count, section) in counts.iter_mut().zip(sections) {
        for record in section {
            let before = out.len();
            write_record(out, record);
            if out.len() > MAX_MESSAGE_LEN {
                out.truncate(before);
                return (counts, true);
            }
            // At most 65,535 octets hold fewer than 65,536 records.
            *count += 1;
        }
    }
    (counts, false)
}

/// An answer with no records for a query whose question could not be read.
pub fn encode_error(header: &Header, rcode: Rcode) -> Vec<u8> {
    let mut out = vec![0; HEADER_LEN];
    let response = Response { rcode, ..Response::default() };
    write_header(&mut out, header, &response, false, [0; 4]);
    out
}

/// Writes the header over the first `HEADER_LEN` octets of `out`, with the
/// section counts (question, answer, authority, additional) and TC when
/// the response says so or records were cut.
fn write_header(out: &mut [u8], h: &Header, r: &Response, cut: bool, counts: [u16; 4]) {
    // Only a standard query copies RD and CD, as miekg/dns's SetReply does.
    let query = h.opcode == OPCODE_QUERY;
    let flags1 = 0x80
        | (h.opcode << 3)
        | if r.authoritative { 0x04 } else { 0 }
        | if r.truncated || cut { 0x02 } else { 0 }
        | if query && h.recursion_desired { 0x01 } else { 0 };
    let flags2 = if query && h.checking_disabled { 0x10 } else { 0 } | (u8::from(r.rcode) & 0x0F);
    out[..2].copy_from_slice(&h.id.to_be_bytes());
    out[2..4].copy_from_slice(&[flags1, flags2]);
    for (i, count) in counts.iter().enumerate() {
        out[4 + 2 * i..6 + 2 * i].copy_from_slice(&count.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::dns::{CLASS_IN, Owner, RData};
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
        assert_eq!(q.qtype, crate::dns::RecordType::Aaaa);
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
            rcode: Rcode::NoError,
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

    /// (answer, additional) records of `n` addresses each.
    fn addresses(n: u32) -> Vec<Record> {
        (0..n).map(|i| Record::new(Owner::Question, 5, RData::A(Ipv4Addr::from(0x0A00_0000 + i)))).collect()
    }

    #[test]
    fn oversized_answers_are_cut_whole_with_tc() {
        let q = parse_query(&query_bytes("big.shop.svc.cluster.local.", RecordType::A)).unwrap();
        let target = Name::parse("a-long-endpoint-name.big.shop.svc.cluster.local.").unwrap();
        let glue = |n| (0..n).map(|_| Record::new(Owner::Name(target.clone()), 5, RData::A(Ipv4Addr::LOCALHOST)));
        // (answers, additionals, whether all fit)
        let cases: Vec<(u32, usize, bool)> = vec![
            (1, 0, true),
            (4000, 0, true),
            (4100, 0, false),
            (65_536, 0, false),
            (70_000, 0, false),
            (4000, 100, false),
        ];
        for (answers, additionals, fits) in cases {
            let response = Response {
                answer: addresses(answers),
                additional: glue(additionals).collect(),
                authoritative: true,
                ..Response::default()
            };
            let bytes = response.encode(&q);
            let what = format!("{answers} answers, {additionals} additional");
            assert!(bytes.len() <= MAX_MESSAGE_LEN, "{what}: {} octets", bytes.len());
            // hickory checks every count against the records present.
            let m = Message::from_bytes(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(m.metadata.truncation, !fits, "{what}");
            let kept = m.answers.len() + m.additionals.len();
            assert_eq!(kept == answers as usize + additionals, fits, "{what}: {kept} kept");
            // Records are kept in order, from the first.
            assert_eq!(m.answers[0].data, HRData::A(rdata::A::new(10, 0, 0, 0)), "{what}");
            // Cut only when the next record would not fit (none is 128 octets).
            if !fits {
                assert!(bytes.len() > MAX_MESSAGE_LEN - 128, "{what}: cut early, at {}", bytes.len());
            }
        }
    }

    #[test]
    fn transfer_batches_stay_within_the_message_size() {
        // Records of about 500 octets: 500 of them would be 250,000.
        let long = |i: u32| {
            let label = format!("{i:0>63}");
            Name::with_prefix(&[label.as_str(), &label, &label], &Name::parse("cluster.local.").unwrap()).unwrap()
        };
        let records: Vec<Record> = (0..1200)
            .map(|i| {
                let srv = RData::Srv { priority: 0, weight: 1, port: 80, target: long(i) };
                Record::new(Owner::Name(long(i)), 5, srv)
            })
            .collect();
        for (batch, records) in [(500, &records[..]), (500, &records[..3]), (2, &records[..5])] {
            let messages = Response::encode_records(records, batch);
            let mut total = 0;
            for bytes in &messages {
                assert!(bytes.len() <= MAX_MESSAGE_LEN);
                let reply = parse_reply(bytes).unwrap();
                assert!(!reply.answers.is_empty() && reply.answers.len() <= batch);
                total += reply.answers.len();
            }
            assert_eq!(total, records.len(), "batch {batch}");
        }
    }

    #[test]
    fn error_replies_and_flags() {
        let mut bytes = query_bytes("x.", RecordType::A);
        bytes[2] |= 0x28; // opcode 5 (UPDATE)
        bytes[3] |= 0x10; // CD
        let header = parse_header(&bytes).unwrap();
        let m = Message::from_bytes(&encode_error(&header, Rcode::FormErr)).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(m.metadata.op_code, OpCode::Update);
        // Not a standard query: RD and CD are not copied.
        assert!(!m.metadata.recursion_desired);
        assert!(!m.metadata.checking_disabled);
        assert!(m.queries.is_empty());
    }

    /// Found by tests/fuzz.rs: record data copied from a reply must fit
    /// its type, or the core's answer holding it cannot be read.
    #[test]
    fn refuses_record_data_that_does_not_fit_its_type() {
        let head = [&[0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0][..], &[1, b'a', 0]].concat();
        let record = |rtype: u16, data: &[u8]| {
            let fixed = [&rtype.to_be_bytes()[..], &[0, 1, 0, 0, 0, 5], &(data.len() as u16).to_be_bytes()].concat();
            [&head[..], &fixed, data].concat()
        };
        let name = [1, b'b', 0];
        let cases: Vec<(u16, Vec<u8>, bool)> = vec![
            (1, vec![10, 0, 0, 1], true),
            (1, vec![10, 0, 1], false),
            (28, vec![0; 15], false),
            (5, name.to_vec(), true),
            (5, [&name[..], b"junk"].concat(), false),
            (33, [&[0, 0, 0, 1, 0, 80][..], &name].concat(), true),
            (33, [&[0, 0, 0, 1, 0, 80][..], &name, &[0]].concat(), false),
            (6, [&name[..], &name, &[0; 20]].concat(), true),
            (6, [&name[..], &name, &[0; 19]].concat(), false),
            (16, vec![2, b'h', b'i'], true),
            (16, vec![3, b'h', b'i'], false),
            (16, vec![], false),
            (0, vec![1, 2, 3, 4], false),
            (41, vec![], false),
            (257, vec![0, 5, b'i'], true),
        ];
        for (rtype, data, ok) in cases {
            let reply = parse_reply(&record(rtype, &data));
            assert_eq!(reply.is_ok(), ok, "type {rtype} {data:?}: {reply:?}");
        }
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
