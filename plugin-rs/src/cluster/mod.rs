//! A cluster's objects: read from the API's JSON into narrow types (`api`)
//! and trimmed to what DNS reads (`objects`), selected as the stanza's
//! watches would select them (`selection`), and indexed for answering
//! (`index`): by namespace and name (`namespace`) and by address
//! (`by_ip`), in hash tables keyed with the host's seed (`seeded`);
//! addresses are held as compactly as their family allows (`ips`).

pub mod api;
pub mod by_ip;
pub mod few;
pub mod index;
pub mod ips;
pub mod namespace;
pub mod objects;
pub mod seeded;
pub mod selection;
