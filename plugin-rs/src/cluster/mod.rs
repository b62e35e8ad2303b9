//! A cluster's objects: decoded from the API's JSON and trimmed to what DNS
//! reads (`objects`), selected as the stanza's watches would select them
//! (`selection`), and indexed for answering (`index`).

pub mod index;
pub mod objects;
pub mod selection;
