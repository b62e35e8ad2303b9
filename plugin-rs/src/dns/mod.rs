//! DNS itself, knowing nothing of Kubernetes: names in wire form
//! (`name`), messages (`message`) and reverse names (`reverse`).

pub mod message;
pub mod name;
pub mod reverse;
