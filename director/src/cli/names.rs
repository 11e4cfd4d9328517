//! Host and service name lookups, as ipvsadm does them (`gethostbyname`, `gethostbyaddr`,
//! `getservbyname`, `getservbyport`). The only module of the CLI with `unsafe` code.

use std::net::{IpAddr, Ipv4Addr};

use super::Proto;

/// Name lookups used by the parser (names to numbers) and by listings without `-n`.
/// `Sync`: `-R` parses its lines on a second thread while the first one talks to the kernel.
pub trait Resolver: Sync {
    /// `gethostbyname`: an IPv4 address for a host name.
    fn host_to_addr(&self, name: &str) -> Option<Ipv4Addr>;
    /// `gethostbyaddr`: the host name of an address.
    fn addr_to_host(&self, addr: &IpAddr) -> Option<String>;
    /// `getservbyname(name, "tcp"|"udp"|"sctp")`.
    fn service_to_port(&self, name: &str, proto: Proto) -> Option<u16>;
    /// `getservbyport(port, "tcp"|"udp"|"sctp")`.
    fn port_to_service(&self, port: u16, proto: Proto) -> Option<String>;
}

/// A resolver that knows no names (every lookup fails): what ipvsadm sees without a resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNames;

impl Resolver for NoNames {
    fn host_to_addr(&self, _name: &str) -> Option<Ipv4Addr> {
        None
    }
    fn addr_to_host(&self, _addr: &IpAddr) -> Option<String> {
        None
    }
    fn service_to_port(&self, _name: &str, _proto: Proto) -> Option<u16> {
        None
    }
    fn port_to_service(&self, _port: u16, _proto: Proto) -> Option<String> {
        None
    }
}

/// The C library's resolver (NSS: /etc/hosts, DNS, /etc/services), exactly the calls ipvsadm makes.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemNames;

fn proto_name(proto: Proto) -> Option<&'static std::ffi::CStr> {
    match proto {
        Proto::Tcp => Some(c"tcp"),
        Proto::Udp => Some(c"udp"),
        Proto::Sctp => Some(c"sctp"),
        Proto::Other(_) => None,
    }
}

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
    fn host_to_addr(&self, name: &str) -> Option<Ipv4Addr> {
        locked(|| ffi::host_to_addr(name))
    }
    fn addr_to_host(&self, addr: &IpAddr) -> Option<String> {
        locked(|| ffi::addr_to_host(addr))
    }
    fn service_to_port(&self, name: &str, proto: Proto) -> Option<u16> {
        let proto = proto_name(proto)?;
        locked(|| ffi::service_to_port(name, proto))
    }
    fn port_to_service(&self, port: u16, proto: Proto) -> Option<String> {
        let proto = proto_name(proto)?;
        locked(|| ffi::port_to_service(port, proto))
    }
}
