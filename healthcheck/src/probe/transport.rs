//! Which transport a probe of a UDP-or-TCP service uses (dns, sip): ldirectord takes
//! the virtual service's `protocol`.

/// The virtual service's `protocol=` as far as a probe cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// `protocol = udp`
    #[default]
    Udp,
    /// `protocol = tcp`
    Tcp,
}
