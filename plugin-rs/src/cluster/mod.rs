//! A cluster's objects: decoded from the API's JSON and trimmed to what DNS
//! reads (`objects`), and indexed for answering (`index`).

pub mod index;
pub mod objects;
