//! glibc 2.36 `qsort` as ipvsadm gets it: `msort_with_tmp`, a top-down merge sort that takes
//! the left element when the comparator returns <= 0. Reproduced step for step so that
//! ipvsadm's non-transitive comparators (unsigned differences returned as `int`) give the same
//! order as the real tool.

use std::cmp::Ordering;

use crate::ipvs::{Family, ServiceEntry, ServiceKey};
use std::net::IpAddr;

/// Sort `v` with glibc's merge sort and a C-style comparator (`<= 0` keeps the left one first).
pub fn msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut v[..n1], cmp);
    msort(&mut v[n1..], cmp);
    let mut out: Vec<T> = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            out.push(v[i].clone());
            i += 1;
        } else {
            out.push(v[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&v[i..n1]);
    out.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&out);
}

/// `(int)(a - b)` on two unsigned 32-bit values.
fn diff32(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn words(addr: &IpAddr) -> [u32; 4] {
    match addr {
        IpAddr::V4(a) => [u32::from(*a), 0, 0, 0],
        IpAddr::V6(a) => {
            let o = a.octets();
            let mut w = [0u32; 4];
            for (k, item) in w.iter_mut().enumerate() {
                *item = u32::from_be_bytes([o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]]);
            }
            w
        }
    }
}

/// `r = addr compare` as in ipvs_cmp_services / ipvs_cmp_dests (by the first's family).
fn cmp_addr(v6: bool, a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (words(a), words(b));
    if v6 {
        let mut r = 0;
        for k in 0..4 {
            r = diff32(wa[k], wb[k]);
            if r != 0 {
                break;
            }
        }
        r
    } else {
        diff32(wa[0], wb[0])
    }
}

fn af_num(f: Family) -> i32 {
    match f {
        Family::V4 => 2,
        Family::V6 => 10,
    }
}

/// The fields ipvsadm's service comparator reads.
fn svc_fields(s: &ServiceEntry) -> (u32, i32, i32, Option<IpAddr>, i32) {
    match s.service.key {
        ServiceKey::Fwmark { family, mark } => (mark, af_num(family), 0, None, 0),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (
            0,
            af_num(Family::of(&addr)),
            i32::from(protocol.number()),
            Some(addr),
            i32::from(port),
        ),
    }
}

/// `ipvs_cmp_services`.
pub fn cmp_services(a: &ServiceEntry, b: &ServiceEntry) -> i32 {
    let (fa, afa, pa, aa, porta) = svc_fields(a);
    let (fb, afb, pb, ab, portb) = svc_fields(b);
    let r = diff32(fa, fb);
    if r != 0 {
        return r;
    }
    let r = afa - afb;
    if r != 0 {
        return r;
    }
    let r = pa - pb;
    if r != 0 {
        return r;
    }
    let zero = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let r = cmp_addr(afa == 10, &aa.unwrap_or(zero), &ab.unwrap_or(zero));
    if r != 0 {
        return r;
    }
    porta - portb
}

/// `ipvs_cmp_dests` on (address, port).
pub fn cmp_dests(a: (&IpAddr, u16), b: (&IpAddr, u16)) -> i32 {
    let r = cmp_addr(a.0.is_ipv6(), a.0, b.0);
    if r != 0 {
        return r;
    }
    i32::from(a.1) - i32::from(b.1)
}

/// An `Ordering` view of a C comparator result (for tests).
pub fn ordering(r: i32) -> Ordering {
    r.cmp(&0)
}
