//! A cluster's objects: read from the API's JSON into narrow types (`api`)
//! and trimmed to what DNS reads (`objects`), selected as the stanza's
//! watches would select them (`selection`), and indexed for answering
//! (`index`).

pub mod api;
pub mod index;
pub mod objects;
pub mod selection;
