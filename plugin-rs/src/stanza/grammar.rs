//! The grammar of names under a stanza's zone (the Kubernetes DNS
//! specification, as the kubernetes plugin reads it).
//!
//! ```text
//! <service>.<namespace>.svc.<zone>
//! <endpoint>.<service>.<namespace>.svc.<zone>
//! _<port>._<protocol>.<service>.<namespace>.svc.<zone>   (underscores optional)
//! <endpoint>.<cluster>.<service>.<namespace>.svc.<zone>  (multicluster zones)
//! <topology-zone>.pin|prefer._zone.<service>.<namespace>.svc.<zone>  (zonal)
//! <a-b-c-d>.<namespace>.pod.<zone>
//! ```
//!
//! Labels are matched as the query's lower-cased bytes; a part that is
//! absent is empty.

/// Which tree a name is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The apex, `svc` or `pod` alone: exists, holds nothing.
    None,
    Svc,
    Pod,
}

/// A name's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub tree: Tree,
    pub namespace: &'a [u8],
    /// The service, or for pod names the dashed address.
    pub service: &'a [u8],
    pub endpoint: &'a [u8],
    pub port: &'a [u8],
    pub protocol: &'a [u8],
    pub cluster: &'a [u8],
    /// Topology zone of a zonal name: the labels before the directive.
    pub topology: Vec<u8>,
    /// `prefer` rather than `pin`.
    pub topology_prefer: bool,
}

/// The name does not follow the grammar: NXDOMAIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// The label that anchors a zonal name.
const ZONAL_ANCHOR: &[u8] = b"_zone";

/// Parses the labels left of the zone (`base`, leftmost first).
pub fn parse<'a>(base: &[&'a [u8]], multicluster: bool, zonal: bool) -> Result<Request<'a>, Invalid> {
    let mut r = Request {
        tree: Tree::None,
        namespace: b"",
        service: b"",
        endpoint: b"",
        port: b"",
        protocol: b"",
        cluster: b"",
        topology: Vec::new(),
        topology_prefer: false,
    };
    let Some((&last, rest)) = base.split_last() else { return Ok(r) };
    if rest.is_empty() && (last == b"svc" || last == b"pod") {
        return Ok(r);
    }
    r.tree = match last {
        b"svc" => Tree::Svc,
        b"pod" => Tree::Pod,
        _ => return Err(Invalid),
    };
    let Some((&namespace, rest)) = rest.split_last() else { return Ok(r) };
    r.namespace = namespace;
    let Some((&service, rest)) = rest.split_last() else { return Ok(r) };
    r.service = service;
    match rest {
        [] => {}
        [endpoint] => r.endpoint = endpoint,
        [first, second] => {
            if !multicluster || first.starts_with(b"_") || second.starts_with(b"_") {
                r.port = strip_underscore(first);
                r.protocol = strip_underscore(second);
            } else {
                r.endpoint = first;
                r.cluster = second;
            }
        }
        [topology @ .., directive, anchor] => {
            if !zonal || multicluster || *anchor != ZONAL_ANCHOR || r.tree != Tree::Svc {
                return Err(Invalid);
            }
            r.topology_prefer = match *directive {
                b"pin" => false,
                b"prefer" => true,
                _ => return Err(Invalid),
            };
            r.topology = topology.join(&b'.');
        }
    }
    Ok(r)
}

fn strip_underscore(label: &[u8]) -> &[u8] {
    label.strip_prefix(b"_").unwrap_or(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// port.protocol.endpoint.cluster.service.namespace.tree|zone|prefer
    fn parts(name: &str, multicluster: bool, zonal: bool) -> Result<String, Invalid> {
        let labels: Vec<&[u8]> = if name.is_empty() { vec![] } else { name.split('.').map(str::as_bytes).collect() };
        let r = parse(&labels, multicluster, zonal)?;
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let tree = match r.tree {
            Tree::None => "-",
            Tree::Svc => "svc",
            Tree::Pod => "pod",
        };
        let fields = [r.port, r.protocol, r.endpoint, r.cluster, r.service, r.namespace].map(s);
        Ok(format!("{}.{tree}|{}|{}", fields.join("."), s(&r.topology), r.topology_prefer))
    }

    #[test]
    fn grammar() {
        let cases: &[(&str, bool, bool, Result<&str, Invalid>)] = &[
            ("", false, false, Ok("......-||false")),
            ("svc", false, false, Ok("......-||false")),
            ("pod", false, false, Ok("......-||false")),
            ("web", false, false, Err(Invalid)),
            ("shop.svc", false, false, Ok(".....shop.svc||false")),
            ("web.shop.svc", false, false, Ok("....web.shop.svc||false")),
            ("web-0.web.shop.svc", false, false, Ok("..web-0..web.shop.svc||false")),
            ("_http._tcp.web.shop.svc", false, false, Ok("http.tcp...web.shop.svc||false")),
            ("http.tcp.web.shop.svc", false, false, Ok("http.tcp...web.shop.svc||false")),
            ("web-0.east.web.shop.svc", true, false, Ok("..web-0.east.web.shop.svc||false")),
            ("_http.tcp.web.shop.svc", true, false, Ok("http.tcp...web.shop.svc||false")),
            ("a.b.c.web.shop.svc", false, false, Err(Invalid)),
            ("10-0-0-1.shop.pod", false, false, Ok("....10-0-0-1.shop.pod||false")),
            ("web.shop.nope", false, false, Err(Invalid)),
            ("us-west-2a.pin._zone.db.shop.svc", false, true, Ok("....db.shop.svc|us-west-2a|false")),
            ("corp.example.prefer._zone.db.shop.svc", false, true, Ok("....db.shop.svc|corp.example|true")),
            ("us-west-2a.pin._zone.db.shop.svc", false, false, Err(Invalid)),
            ("us-west-2a.pin._zone.db.shop.svc", true, true, Err(Invalid)),
            ("us-west-2a.keep._zone.db.shop.svc", false, true, Err(Invalid)),
            ("us-west-2a.pin._zone.db.shop.pod", false, true, Err(Invalid)),
        ];
        for (name, mc, zonal, want) in cases {
            assert_eq!(parts(name, *mc, *zonal), want.map(str::to_string), "{name}");
        }
    }
}
