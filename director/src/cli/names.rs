//! Host and service name lookups, as ipvsadm does them (`gethostbyname`, `gethostbyaddr`,
//! `getservbyname`, `getservbyport`). The only module of the CLI with `unsafe` code.

use std::net::{IpAddr, Ipv4Addr};

use super::Proto;
pub use crate::config::Resolver;
use crate::ipvs::Family;

/// The C library's protocol name of `proto` for the `getservby*` calls (`None`: no name).
pub fn proto_name(proto: Proto) -> Option<&'static str> {
    match proto {
        Proto::Tcp => Some("tcp"),
        Proto::Udp => Some("udp"),
        Proto::Sctp => Some("sctp"),
        Proto::Other(_) => None,
    }
}

/// `gethostbyname` through any resolver: an IPv4 address for a host name.
pub fn host_v4(names: &dyn Resolver, name: &str) -> Option<Ipv4Addr> {
    match names.host(name, Family::V4)? {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// A resolver that knows no names (every lookup fails): what ipvsadm sees without a resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNames;

impl Resolver for NoNames {
    fn host(&self, _name: &str, _family: Family) -> Option<IpAddr> {
        None
    }
    fn service(&self, _name: &str, _protocol: Option<&str>) -> Option<u16> {
        None
    }
    fn port_name(&self, _port: u16, _protocol: &str) -> Option<String> {
        None
    }
    fn hostname(&self) -> String {
        String::new()
    }
    fn reverse(&self, _addr: IpAddr) -> Option<String> {
        None
    }
}

/// The C library's resolver (NSS: /etc/hosts, DNS, /etc/services), exactly the calls ipvsadm makes.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemNames;

#[allow(unsafe_code)]
mod ffi {
    use std::ffi::{CStr, CString};
    use std::net::{IpAddr, Ipv4Addr};

    extern "C" {
        fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
        fn gethostbyaddr(
            addr: *const libc::c_void,
            len: libc::socklen_t,
            family: libc::c_int,
        ) -> *mut libc::hostent;
    }

    pub fn host_to_addr(name: &str) -> Option<Ipv4Addr> {
        let cname = CString::new(name).ok()?;
        // SAFETY: `cname` is a valid NUL-terminated string; gethostbyname returns NULL or a
        // pointer to static storage that stays valid until the next resolver call, and we copy
        // what we need before returning. h_addr_list[0] is checked for NULL and has h_length
        // (checked == 4) bytes.
        unsafe {
            let h = gethostbyname(cname.as_ptr());
            if h.is_null() {
                return None;
            }
            let h = &*h;
            if h.h_addrtype != libc::AF_INET || h.h_length != 4 || h.h_addr_list.is_null() {
                return None;
            }
            let first = *h.h_addr_list;
            if first.is_null() {
                return None;
            }
            let b = std::slice::from_raw_parts(first as *const u8, 4);
            Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
    }

    pub fn addr_to_host(addr: &IpAddr) -> Option<String> {
        let (bytes, family): (Vec<u8>, libc::c_int) = match addr {
            IpAddr::V4(a) => (a.octets().to_vec(), libc::AF_INET),
            IpAddr::V6(a) => (a.octets().to_vec(), libc::AF_INET6),
        };
        // SAFETY: `bytes` outlives the call and has the length passed; the result is NULL or
        // static storage whose h_name (checked for NULL) is a NUL-terminated string we copy.
        unsafe {
            let h = gethostbyaddr(
                bytes.as_ptr() as *const libc::c_void,
                bytes.len() as libc::socklen_t,
                family,
            );
            if h.is_null() || (*h).h_name.is_null() {
                return None;
            }
            Some(CStr::from_ptr((*h).h_name).to_string_lossy().into_owned())
        }
    }

    pub fn service_to_port(name: &str, proto: &CStr) -> Option<u16> {
        let cname = CString::new(name).ok()?;
        // SAFETY: both arguments are valid C strings; the result is NULL or static storage.
        unsafe {
            let s = libc::getservbyname(cname.as_ptr(), proto.as_ptr());
            if s.is_null() {
                return None;
            }
            Some(u16::from_be((*s).s_port as u16))
        }
    }

    pub fn port_to_service(port: u16, proto: &CStr) -> Option<String> {
        // SAFETY: `proto` is a valid C string; the result is NULL or static storage whose
        // s_name (checked for NULL) is a NUL-terminated string we copy.
        unsafe {
            let s = libc::getservbyport(libc::c_int::from(port.to_be()), proto.as_ptr());
            if s.is_null() || (*s).s_name.is_null() {
                return None;
            }
            Some(CStr::from_ptr((*s).s_name).to_string_lossy().into_owned())
        }
    }
}

/// The C library's `gethostby*` / `getservby*` return static storage: one call at a time in
/// the process (each copies what it needs before the lock is released).
static LOOKUP: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn locked<T>(f: impl FnOnce() -> T) -> T {
    let _guard = LOOKUP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f()
}

impl Resolver for SystemNames {
    /// `gethostbyname` (IPv4 only, as ipvsadm).
    fn host(&self, name: &str, family: Family) -> Option<IpAddr> {
        if family != Family::V4 {
            return None;
        }
        locked(|| ffi::host_to_addr(name)).map(IpAddr::V4)
    }
    fn service(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        let proto = std::ffi::CString::new(protocol?).ok()?;
        locked(|| ffi::service_to_port(name, &proto))
    }
    fn port_name(&self, port: u16, protocol: &str) -> Option<String> {
        let proto = std::ffi::CString::new(protocol).ok()?;
        locked(|| ffi::port_to_service(port, &proto))
    }
    fn hostname(&self) -> String {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    }
    /// `gethostbyaddr`.
    fn reverse(&self, addr: IpAddr) -> Option<String> {
        locked(|| ffi::addr_to_host(&addr))
    }
}
