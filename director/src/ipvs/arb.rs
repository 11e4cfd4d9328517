//! proptest strategies for the IPVS model (tests only). Addresses, ports and names come from
//! small pools so that two generated tables share many keys, which is what plan tests need.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::model::*;

pub fn arb_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (1u8..=4).prop_map(|n| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))),
        (1u16..=3).prop_map(|n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))),
    ]
}

pub fn arb_service_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (
            prop_oneof![
                Just(Protocol::Tcp),
                Just(Protocol::Udp),
                Just(Protocol::Sctp)
            ],
            arb_addr(),
            prop_oneof![Just(80u16), Just(443u16), Just(0u16)],
        )
            .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                protocol,
                addr,
                port
            }),
        (
            prop_oneof![Just(Family::V4), Just(Family::V6)],
            prop_oneof![Just(1u32), Just(7u32), Just(u32::MAX)],
        )
            .prop_map(|(family, mark)| ServiceKey::Fwmark { family, mark }),
    ]
}

pub fn arb_service_for(key: ServiceKey) -> impl Strategy<Value = Service> {
    let netmask = match key.family() {
        Family::V4 => prop_oneof![Just(0xffff_ffffu32), Just(0xffff_ff00), any::<u32>()].boxed(),
        Family::V6 => (1u32..=128).boxed(),
    };
    (
        prop_oneof![Just("rr"), Just("wlc"), Just("sh"), Just("none")],
        (0u32..0x40).prop_map(|f| f & !flags::IP_VS_SVC_F_HASHED),
        prop_oneof![Just(0u32), Just(300u32), any::<u32>()],
        netmask,
        proptest::option::of(Just("sip".to_string())),
    )
        .prop_map(move |(sched, flags, timeout, netmask, pe_name)| Service {
            key,
            scheduler: sched.to_string(),
            flags,
            timeout,
            netmask,
            pe_name,
        })
}

pub fn arb_service() -> impl Strategy<Value = Service> {
    arb_service_key().prop_flat_map(arb_service_for)
}

pub fn arb_dest() -> impl Strategy<Value = Dest> {
    (
        prop_oneof![
            (1u8..=4).prop_map(|n| IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))),
            (1u16..=3).prop_map(|n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, n))),
        ],
        prop_oneof![Just(80u16), Just(8080u16)],
        prop_oneof![
            Just(Forward::Masq),
            Just(Forward::Local),
            Just(Forward::Tunnel),
            Just(Forward::Route)
        ],
        prop_oneof![Just(0u32), Just(1u32), 0u32..=i32::MAX as u32],
        (0u32..3, 0u32..3),
        prop_oneof![
            Just(TunnelType::Ipip),
            Just(TunnelType::Gue),
            Just(TunnelType::Gre)
        ],
        prop_oneof![Just(0u16), Just(6080u16)],
        0u16..=2,
    )
        .prop_map(
            |(addr, port, forward, weight, (u, l), tun_type, tun_port, tun_flags)| Dest {
                addr,
                port,
                forward,
                weight,
                u_threshold: u,
                l_threshold: l,
                tun_type,
                tun_port,
                tun_flags,
            },
        )
}

pub fn arb_service_config() -> impl Strategy<Value = ServiceConfig> {
    (arb_service(), proptest::collection::vec(arb_dest(), 0..4)).prop_map(|(service, dests)| {
        ServiceConfig {
            service,
            dests: dests.into_iter().map(|d| (d.key(), d)).collect(),
        }
    })
}

pub fn arb_table() -> impl Strategy<Value = Table> {
    proptest::collection::vec(arb_service_config(), 0..6).prop_map(|configs| Table {
        services: configs.into_iter().map(|c| (c.service.key, c)).collect(),
    })
}
