//! A strict reader of DNS messages, written apart from the core's writer:
//! every count matches the records present, every name and every record's
//! data lies inside the message and its record, nothing trails, and the
//! whole is at most 65,535 octets. hickory-proto then reads the same bytes.

use hickory_proto::op::Message;
use hickory_proto::serialize::binary::BinDecodable;

const MAX_MESSAGE: usize = 65_535;
const HEADER: usize = 12;

/// Checks `msg` both ways; the reason when it is not well formed.
pub fn check(msg: &[u8]) -> Result<(), String> {
    walk(msg)?;
    Message::from_bytes(msg).map_err(|e| format!("hickory cannot read it: {e}"))?;
    Ok(())
}

fn walk(msg: &[u8]) -> Result<(), String> {
    if msg.len() > MAX_MESSAGE {
        return Err(format!("{} octets", msg.len()));
    }
    if msg.len() < HEADER {
        return Err("shorter than a header".into());
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([msg[4 + 2 * i], msg[5 + 2 * i]]));
    let mut pos = HEADER;
    for q in 0..count(0) {
        pos = name(msg, pos).map_err(|e| format!("question {q}: {e}"))? + 4;
        if pos > msg.len() {
            return Err(format!("question {q}: truncated"));
        }
    }
    let records = count(1) + count(2) + count(3);
    for r in 0..records {
        pos = record(msg, pos).map_err(|e| format!("record {r} of {records}: {e}"))?;
    }
    if pos != msg.len() {
        return Err(format!("{} octets after the last counted record", msg.len() - pos));
    }
    Ok(())
}

/// One record at `pos`; the offset past it.
fn record(msg: &[u8], pos: usize) -> Result<usize, String> {
    let pos = name(msg, pos)?;
    let fixed = msg.get(pos..pos + 10).ok_or("truncated fixed fields")?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let (start, end) = (pos + 10, pos + 10 + rdlen);
    if end > msg.len() {
        return Err(format!("type {rtype}: rdlength {rdlen} past the end"));
    }
    let exact = |at: usize| if at == end { Ok(end) } else { Err(format!("type {rtype}: data does not fill rdlength")) };
    let in_data = |at: usize| if at <= end { Ok(at) } else { Err(format!("type {rtype}: a name runs past rdlength")) };
    match rtype {
        1 => exact(start + 4),
        28 => exact(start + 16),
        // NS, CNAME, PTR
        2 | 5 | 12 => exact(in_data(name(msg, start)?)?),
        33 => exact(in_data(name(msg, start + 6)?)?),
        6 => {
            let rname = in_data(name(msg, start)?)?;
            exact(in_data(name(msg, rname)?)? + 20)
        }
        16 => {
            let mut at = start;
            while at < end {
                at += 1 + usize::from(msg[at]);
            }
            if rdlen == 0 { Err("empty TXT".into()) } else { exact(at) }
        }
        _ => Ok(end),
    }
}

/// A possibly compressed name at `pos`: labels of at most 63 octets,
/// pointers only backwards, at most 255 octets in all. The offset past it.
fn name(msg: &[u8], mut pos: usize) -> Result<usize, String> {
    let mut end = None;
    let mut len = 0;
    let mut limit = pos;
    loop {
        let b = *msg.get(pos).ok_or("name past the end")?;
        match b & 0xC0 {
            0x00 => {
                len += 1 + usize::from(b);
                if len > 255 {
                    return Err("name longer than 255 octets".into());
                }
                if pos + 1 + usize::from(b) > msg.len() {
                    return Err("label past the end".into());
                }
                pos += 1 + usize::from(b);
                if b == 0 {
                    return Ok(end.unwrap_or(pos));
                }
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or("pointer past the end")?;
                let target = usize::from(b & 0x3F) << 8 | usize::from(low);
                if target >= limit {
                    return Err("pointer not backwards".into());
                }
                end.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err("bad label type".into()),
        }
    }
}
