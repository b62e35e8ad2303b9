//! Where a stanza's objects come from: a `snapshot` file, or an API server
//! reached with the kubernetes plugin's connection options (`endpoint`,
//! `tls`, `kubeconfig`, `apiserver_qps`, `apiserver_burst`,
//! `apiserver_max_inflight`), in-cluster when none is given. Files and
//! servers are I/O: the host opens them; this checks what can be checked
//! without, and refuses a stanza that asks for both kinds of source.

use crate::contract::{Connection, Property, Source};

use super::args::{count, one};

/// The source options of one stanza, as they are read.
#[derive(Debug, Default)]
pub struct SourceOptions {
    snapshot: Option<(String, u32)>,
    endpoint: String,
    ignored_endpoints: Vec<String>,
    tls: Vec<String>,
    kubeconfig: String,
    context: String,
    qps: f64,
    burst: u32,
    max_inflight: u32,
    /// The first connection option given, and its line.
    first_connection: Option<(String, u32)>,
}

/// A stanza-wide refusal: the option at fault, its line, the reason.
pub type Refusal = (String, u32, String);

impl SourceOptions {
    pub fn snapshot(&mut self, p: &Property) -> Result<(), String> {
        self.snapshot = Some((path(one(p)?)?.into(), p.line));
        Ok(())
    }

    /// `endpoint URL...`: the first URL is used; the kubernetes plugin
    /// takes more and ignores them, and so does this (the host warns).
    pub fn endpoint(&mut self, p: &Property) -> Result<(), String> {
        let (first, rest) = p.args.split_first().ok_or("needs a URL")?;
        check_url(first)?;
        self.connection(p);
        self.endpoint = first.clone();
        self.ignored_endpoints = rest.to_vec();
        Ok(())
    }

    pub fn tls(&mut self, p: &Property) -> Result<(), String> {
        if p.args.len() != 3 {
            return Err(format!("needs CERT KEY CACERT, got {} values", p.args.len()));
        }
        for file in &p.args {
            path(file)?;
        }
        self.connection(p);
        self.tls = p.args.clone();
        Ok(())
    }

    pub fn kubeconfig(&mut self, p: &Property) -> Result<(), String> {
        let (file, context) = match p.args.as_slice() {
            [file] => (file, ""),
            [file, context] => (file, context.as_str()),
            _ => return Err(format!("needs FILE [CONTEXT], got {} values", p.args.len())),
        };
        self.kubeconfig = path(file)?.into();
        self.context = context.into();
        self.connection(p);
        Ok(())
    }

    /// `apiserver_qps`: a number >= 0 that fits Go's float32, as the
    /// plugin stores it (0: client-go's default).
    pub fn qps(&mut self, p: &Property) -> Result<(), String> {
        let v = one(p)?;
        let qps = v.parse::<f64>().ok().filter(|q| q.is_finite() && *q >= 0.0 && *q <= f64::from(f32::MAX));
        let qps = qps.ok_or_else(|| format!("{v:?} is not a number >= 0"))?;
        self.connection(p);
        self.qps = f64::from(qps as f32);
        Ok(())
    }

    /// `apiserver_burst` (0: client-go's default).
    pub fn burst(&mut self, p: &Property) -> Result<(), String> {
        self.burst = count(p, 0)?;
        self.connection(p);
        Ok(())
    }

    /// `apiserver_max_inflight`: 0 means no cap, as in the kubernetes
    /// plugin, which takes 0 and wraps the transport only above it.
    pub fn max_inflight(&mut self, p: &Property) -> Result<(), String> {
        self.max_inflight = count(p, 0)?;
        self.connection(p);
        Ok(())
    }

    fn connection(&mut self, p: &Property) {
        self.first_connection.get_or_insert_with(|| (p.name.clone(), p.line));
    }

    /// The source and the line the host points at when it cannot be used:
    /// the snapshot's, the first connection option's, else the stanza's.
    pub fn finish(self, stanza_line: u32) -> Result<(Source, u32), Refusal> {
        match (self.snapshot, self.first_connection) {
            (Some((_, snapshot_line)), Some((option, line))) => Err((
                option,
                line,
                format!(
                    "a stanza reads either a snapshot or an API server, not both (snapshot on line {snapshot_line})"
                ),
            )),
            (Some((file, line)), None) => Ok((Source::Snapshot(file), line)),
            (None, first) => {
                let line = first.map_or(stanza_line, |(_, line)| line);
                let connection = Connection {
                    endpoint: self.endpoint,
                    ignored_endpoints: self.ignored_endpoints,
                    tls: self.tls,
                    kubeconfig: self.kubeconfig,
                    context: self.context,
                    qps: self.qps,
                    burst: self.burst,
                    max_inflight: self.max_inflight,
                };
                Ok((Source::ApiServer(connection), line))
            }
        }
    }
}

/// A file name: anything but empty (whether it exists is the host's
/// question).
fn path(file: &str) -> Result<&str, String> {
    if file.is_empty() { Err("needs a file name, got an empty one".into()) } else { Ok(file) }
}

/// An API server URL: `http://` or `https://`, then a host (a name, an
/// IPv4 address, or an IPv6 one in brackets), an optional port, an
/// optional path. client-go would also take a bare `host:port`; the
/// kubernetes plugin documents a URL, and anything else is refused here.
fn check_url(url: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("{url:?} is not a URL with http:// or https:// and a host: {why}"));
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else {
        return refuse("no http:// or https://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((v6, after)) = bracketed.split_once(']') else { return refuse("unclosed [") };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return refuse("bad IPv6 address");
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return refuse("junk after ]"),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return refuse("no host");
    }
    if host.bytes().any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))) {
        return refuse("bad character in the host");
    }
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return refuse("bad port");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for good in [
            "https://10.0.0.1:6443",
            "http://localhost:8080",
            "HTTPS://api.example.org",
            "https://api.example.org/prefix/",
            "https://[fd00::1]:6443",
            "https://[::1]",
            "https://user@host:443",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("::::", "no http:// or https://"),
            ("10.0.0.1:6443", "no http:// or https://"),
            ("ftp://host", "no http:// or https://"),
            ("https://", "no host"),
            ("https://:6443", "no host"),
            ("https:///path", "no host"),
            ("https://host:", "bad port"),
            ("https://host:x", "bad port"),
            ("https://host:70000", "bad port"),
            ("https://[fd00::1", "unclosed ["),
            ("https://[nope]:1", "bad IPv6 address"),
            ("https://[::1]x", "junk after ]"),
            ("https://a b", "bad character"),
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(err.contains(why) && err.contains("is not a URL"), "{bad}: {err}");
        }
    }
}
