//! The egeria-ha-lab runner: the HA topology's vocabulary, a typed Egeria client, the
//! flows that drive it (bootstrap, status) and the substrates it runs on.
//!
//! Both front doors use this library: `cargo xtask …` on the developer's machine and the
//! `lab` binary (which also hosts the local substrate's control plane).

pub mod artifacts;
pub mod bootstrap;
pub mod commands;
pub mod egeria;
pub mod heal;
pub mod kafka;
pub mod node_faults;
pub mod outage;
pub mod page;
/// The PTS report lives in a crate of its own (built optimised in debug builds).
pub use pts_report as report;
pub mod prereq;
pub mod pts;
pub mod remote;
pub mod runner;
pub mod runs;
pub mod session;
pub mod settings;
pub mod state;
pub mod status;
pub mod substrate;
pub mod wait;
pub mod xtdb;
