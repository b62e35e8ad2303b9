//! Kubernetes label selectors, as the kubernetes plugin reads `labels` and
//! `namespace_labels`: the text goes through apimachinery's
//! `ParseToLabelSelector` (the selector grammar, then only the operators a
//! LabelSelector can hold) and back through `LabelSelectorAsSelector`. This
//! reads the same grammar with the same validation, keeps the same
//! requirements, writes the same canonical text (which the API server
//! applies to watches) and matches labels the same way.
//!
//! ```text
//! selector    ::= requirement ("," requirement)*
//! requirement ::= ["!"] KEY [("=" | "==") VALUE | ("in" | "notin") "(" VALUE ("," VALUE)* ")"]
//! ```
//!
//! `!=`, `>` and `<` belong to the grammar but not to a LabelSelector: they
//! are refused, as the plugin refuses them (`key notin (value)` is the
//! LabelSelector way to write `key!=value`).

use std::collections::BTreeMap;
use std::fmt;

/// A parsed selector: every requirement must hold. Never empty: an empty
/// selector selects everything and is written as no selector at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Sorted by key (stable), as `LabelSelectorAsSelector` sorts them.
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    /// Sorted and without duplicates; one value for `Equals`, none for
    /// `Exists` and `DoesNotExist`.
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// Operators of the grammar, some of which a LabelSelector cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrammarOp {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Selector {
    /// Reads a selector. Ok(None) for text with no requirement at all.
    pub fn parse(text: &str) -> Result<Option<Selector>, String> {
        let parsed = Parser::new(text).parse().map_err(|e| format!("unable to parse requirement: {e}"))?;
        // ParseToLabelSelector: equalities become match labels (one per
        // key, the last one winning), the rest expressions.
        let mut match_labels = BTreeMap::new();
        let mut expressions = Vec::new();
        for (key, op, values) in parsed {
            let op = match op {
                GrammarOp::Equals | GrammarOp::DoubleEquals => {
                    match_labels.insert(key, values);
                    continue;
                }
                GrammarOp::In => Op::In,
                GrammarOp::NotIn => Op::NotIn,
                GrammarOp::Exists => Op::Exists,
                GrammarOp::DoesNotExist => Op::DoesNotExist,
                GrammarOp::NotEquals => return Err("\"!=\" is not a valid label selector operator".into()),
                GrammarOp::GreaterThan => return Err("\"gt\" isn't supported in label selectors".into()),
                GrammarOp::LessThan => return Err("\"lt\" isn't supported in label selectors".into()),
            };
            expressions.push(Requirement { key, op, values });
        }
        // LabelSelectorAsSelector: match labels, then expressions, sorted
        // by key.
        let mut requirements: Vec<Requirement> =
            match_labels.into_iter().map(|(key, values)| Requirement { key, op: Op::Equals, values }).collect();
        requirements.extend(expressions);
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((!requirements.is_empty()).then_some(Selector { requirements }))
    }

    /// The same selector, also requiring that `key` exists.
    pub fn and_exists(selector: Option<&Selector>, key: &str) -> Selector {
        let mut requirements = selector.map(|s| s.requirements.clone()).unwrap_or_default();
        requirements.push(Requirement { key: key.into(), op: Op::Exists, values: Vec::new() });
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector { requirements }
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let listed = || value.is_some_and(|v| self.values.binary_search(v).is_ok());
        match self.op {
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Equals | Op::In => listed(),
            Op::NotIn => !listed(),
        }
    }
}

impl fmt::Display for Selector {
    /// The canonical text, as `labels.Selector.String()` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let values = r.values.join(",");
            match r.op {
                Op::Exists => write!(f, "{}", r.key)?,
                Op::DoesNotExist => write!(f, "!{}", r.key)?,
                Op::Equals => write!(f, "{}={values}", r.key)?,
                Op::In => write!(f, "{} in ({values})", r.key)?,
                Op::NotIn => write!(f, "{} notin ({values})", r.key)?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// Where a token is read: among values, `in` and `notin` are plain words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the text into tokens, ending with `End`.
fn lex(text: &str) -> Vec<(Token, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos == bytes.len() {
            out.push((Token::End, ""));
            return out;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            // The longest run of symbols that is one operator.
            let mut end = pos + 1;
            while end < bytes.len() && is_special(bytes[end]) && keyword(&text[start..=end]).is_some() {
                end += 1;
            }
            pos = end;
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
        }
        let literal = &text[start..pos];
        out.push((keyword(literal).unwrap_or(Token::Identifier), literal));
    }
}

type Parsed = (String, GrammarOp, Vec<String>);

/// apimachinery's recursive descent, step for step, so that the same texts
/// are taken and refused.
struct Parser<'a> {
    items: Vec<(Token, &'a str)>,
    position: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { items: lex(text), position: 0 }
    }

    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        let (token, literal) = self.items[self.position];
        (in_context(token, context), literal)
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.lookahead(context);
        // The final `End` is never consumed past.
        self.position = (self.position + 1).min(self.items.len() - 1);
        item
    }

    fn parse(&mut self) -> Result<Vec<Parsed>, String> {
        let mut requirements = Vec::new();
        loop {
            match self.lookahead(Context::Values) {
                (Token::Identifier | Token::DoesNotExist, _) => {
                    requirements.push(self.requirement()?);
                    match self.consume(Context::Values) {
                        (Token::End, _) => return Ok(requirements),
                        (Token::Comma, _) => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!("found '{literal}', expected: identifier after ','"));
                            }
                        }
                        (_, literal) => return Err(format!("found '{literal}', expected: ',' or 'end of string'")),
                    }
                }
                (Token::End, _) => return Ok(requirements),
                (_, literal) => return Err(format!("found '{literal}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Parsed, String> {
        let (key, inferred) = self.key_and_inferred_operator()?;
        if let Some(op) = inferred {
            return Ok((key.into(), op, Vec::new()));
        }
        let op = self.operator()?;
        let values = match op {
            GrammarOp::In | GrammarOp::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        for value in &values {
            check_label_value(value)?;
        }
        Ok((key.into(), op, values))
    }

    /// The key, and `Exists` or `DoesNotExist` when no operator follows
    /// (or a `!` came first).
    fn key_and_inferred_operator(&mut self) -> Result<(&'a str, Option<GrammarOp>), String> {
        let mut op = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            op = Some(GrammarOp::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        check_label_key(literal)?;
        if matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma) && op.is_none() {
            op = Some(GrammarOp::Exists);
        }
        Ok((literal, op))
    }

    fn operator(&mut self) -> Result<GrammarOp, String> {
        Ok(match self.consume(Context::KeyAndOperator) {
            (Token::In, _) => GrammarOp::In,
            (Token::Equals, _) => GrammarOp::Equals,
            (Token::DoubleEquals, _) => GrammarOp::DoubleEquals,
            (Token::GreaterThan, _) => GrammarOp::GreaterThan,
            (Token::LessThan, _) => GrammarOp::LessThan,
            (Token::NotIn, _) => GrammarOp::NotIn,
            (Token::NotEquals, _) => GrammarOp::NotEquals,
            (_, literal) => return Err(format!("found '{literal}', expected: in, notin, =, ==, !=, gt, lt")),
        })
    }

    /// `( VALUE, ... )`: a set, so sorted and without duplicates; empty
    /// entries (`(a,)`, `()`) are the empty value.
    fn values(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        let mut set = match token {
            Token::Identifier | Token::Comma => {
                let set = self.identifiers()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                set
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                vec![String::new()]
            }
            _ => return Err(format!("found '{literal}', expected: ',', ')' or identifier")),
        };
        set.sort();
        set.dedup();
        Ok(set)
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        loop {
            match self.consume(Context::Values) {
                (Token::Identifier, literal) => {
                    set.push(literal.into());
                    match self.lookahead(Context::Values) {
                        (Token::Comma, _) => {}
                        (Token::ClosedPar, _) => return Ok(set),
                        (_, next) => return Err(format!("found '{next}', expected: ',' or ')'")),
                    }
                }
                (Token::Comma, _) => {
                    if set.is_empty() {
                        set.push(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            set.push(String::new());
                            return Ok(set);
                        }
                        Token::Comma => set.push(String::new()),
                        _ => {}
                    }
                }
                (_, literal) => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        if matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.consume(Context::Values) {
            (Token::Identifier, literal) => Ok(vec![literal.into()]),
            (_, literal) => Err(format!("found '{literal}', expected: identifier")),
        }
    }
}

fn in_context(token: Token, context: Context) -> Token {
    match (token, context) {
        (Token::In | Token::NotIn, Context::Values) => Token::Identifier,
        _ => token,
    }
}

/// Longest label value and label key name part.
const MAX_LABEL_LEN: usize = 63;
/// Longest DNS subdomain (the key's prefix).
const MAX_SUBDOMAIN_LEN: usize = 253;

/// A label key: an optional DNS subdomain prefix and `/`, then a name.
fn check_label_key(key: &str) -> Result<(), String> {
    let invalid = |why: &str| Err(format!("invalid label key {key:?}: {why}"));
    let name = match key.split('/').collect::<Vec<_>>().as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return invalid("prefix part must be non-empty");
            }
            if prefix.len() > MAX_SUBDOMAIN_LEN || !prefix.split('.').all(is_dns_label) {
                return invalid("prefix part must be a lowercase DNS subdomain (e.g. 'example.com')");
            }
            *name
        }
        _ => return invalid("at most one '/' (an optional DNS subdomain prefix, then a name)"),
    };
    if name.is_empty() {
        return invalid("name part must be non-empty");
    }
    if name.len() > MAX_LABEL_LEN {
        return invalid("name part must be no more than 63 characters");
    }
    if !is_label_name(name) {
        return invalid(
            "name part must consist of alphanumeric characters, '-', '_' or '.', \
             and must start and end with an alphanumeric character",
        );
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_LABEL_LEN {
        return Err(format!("invalid label value {value:?}: must be no more than 63 characters"));
    }
    if !value.is_empty() && !is_label_name(value) {
        return Err(format!(
            "invalid label value {value:?}: must be empty or consist of alphanumeric characters, '-', '_' \
             or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, one label of an RFC 1123 subdomain.
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && edge(&b[0]) && edge(&b[b.len() - 1]) && b.iter().all(|c| edge(c) || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Result<String, String> {
        Selector::parse(text).map(|s| s.map(|s| s.to_string()).unwrap_or_default())
    }

    #[test]
    fn canonical_text_as_the_api_server_gets_it() {
        let cases: &[(&str, &str)] = &[
            ("app=web", "app=web"),
            ("app==web", "app=web"),
            ("app = web", "app=web"),
            ("app in (web, db)", "app in (db,web)"),
            ("app in (web,db,web)", "app in (db,web)"),
            ("tier notin (hidden), app", "app,tier notin (hidden)"),
            ("!legacy", "!legacy"),
            ("b=1,a=2", "a=2,b=1"),
            // One match label per key: the last one wins, as in a map.
            ("a=1,a=2", "a=2"),
            ("a=", "a="),
            ("a in ()", "a in ()"),
            ("a in (,x)", "a in (,x)"),
            ("a in (x,)", "a in (,x)"),
            ("example.com/team=a", "example.com/team=a"),
            ("x in (in, notin)", "x in (in,notin)"),
            ("in in (a)", "in in (a)"),
            ("a\tin\n(b)", "a in (b)"),
            ("", ""),
            ("   ", ""),
        ];
        for (text, want) in cases {
            assert_eq!(canonical(text).as_deref(), Ok(*want), "{text:?}");
        }
        let narrowed =
            Selector::and_exists(Selector::parse("zone=a").unwrap().as_ref(), "multicluster.kubernetes.io/x");
        assert_eq!(narrowed.to_string(), "multicluster.kubernetes.io/x,zone=a");
        assert_eq!(Selector::and_exists(None, "k").to_string(), "k");
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, &str)] = &[
            ("a!=b", "\"!=\" is not a valid label selector operator"),
            ("a>1", "\"gt\" isn't supported"),
            ("a<1", "\"lt\" isn't supported"),
            ("a in (", "found '', expected: ',', ')' or identifier"),
            ("a in b", "found 'b' expected: '('"),
            ("a in (b c)", "found 'c', expected: ',' or ')'"),
            ("==x", "found '==', expected: !, identifier, or 'end of string'"),
            ("a,", "found '', expected: identifier after ','"),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            ("a=(", "found '(', expected: identifier"),
            ("-a=b", "invalid label key \"-a\""),
            ("a/b/c", "at most one '/'"),
            ("/a", "prefix part must be non-empty"),
            ("Example.com/a", "prefix part must be a lowercase DNS subdomain"),
            (&"k".repeat(64), "no more than 63 characters"),
            ("a=-b", "invalid label value \"-b\""),
            ("a in (b,c-)", "invalid label value \"c-\""),
            ("a=é", "invalid label value"),
        ];
        for (text, want) in cases {
            let err = Selector::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn matching() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let db = labels(&[("app", "db")]);
        let none = labels(&[]);
        let blank = labels(&[("app", "")]);
        // (selector, web, db, none, blank)
        let cases: &[(&str, [bool; 4])] = &[
            ("app=web", [true, false, false, false]),
            ("app in (web,db)", [true, true, false, false]),
            ("app notin (web)", [false, true, true, true]),
            ("app", [true, true, false, true]),
            ("!app", [false, false, true, false]),
            ("app=web,tier", [true, false, false, false]),
            ("tier notin (back),app", [true, true, false, true]),
            ("app=", [false, false, false, true]),
            ("app in ()", [false, false, false, true]),
        ];
        for (text, want) in cases {
            let s = Selector::parse(text).unwrap().unwrap();
            let got = [&web, &db, &none, &blank].map(|l| s.matches(l));
            assert_eq!(got, *want, "{text}");
        }
    }
}
