//! DNS itself, knowing nothing of Kubernetes: names in wire form (`name`),
//! record types (`rtype`) and response codes (`rcode`), reading wire bytes
//! (`wire`), records (`record`), messages (`message`) and reverse names
//! (`reverse`).

pub mod message;
pub mod name;
pub mod rcode;
pub mod record;
pub mod reverse;
pub mod rtype;
pub mod wire;

pub use message::{Query, Reply, Response};
pub use name::Name;
pub use rcode::Rcode;
pub use record::{Owner, RData, RawRecord, Record};
pub use rtype::{CLASS_IN, RecordType};
