//! director: an LVS director appliance in one binary.
//!
//! - `ipvs`: IPVS over generic netlink (model, plan, codec, client)
//! - `cli`: the ipvsadm-compatible command (argument parsing and rendering, both pure)
//! - `config`: ldirectord's file formats -> typed config, errors with `file:line`

pub mod ipvs;
pub mod config;
