//! `service = submission`: ldirectord runs the same check as for smtp
//! ([`super::smtp`]) against the submission port (587).

pub use super::smtp::probe;
