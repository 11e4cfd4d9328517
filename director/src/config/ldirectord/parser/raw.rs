//! The file as written: directive values, virtual blocks and their real lines, before names
//! are resolved and global defaults applied.

use super::super::model::{
    AlertStatus, CheckType, HttpMethod, Method, MonitorFile, Netmask, Protocol, Service, TlsVerify,
};
use crate::ipvs::Family;

/// One directive line, split and cleaned.
pub(super) struct Val {
    pub(super) line: usize,
    pub(super) name: String,
    /// The value as director reads it: comment removed, trailing blanks trimmed.
    pub(super) clean: String,
    /// The value as ldirectord 1.186 sees it (no comment removal at global level,
    /// trailing blanks kept).
    pub(super) ld_view: String,
    /// A trailing comment was removed from a global line.
    pub(super) global_comment: bool,
}

#[derive(Debug, Clone)]
pub(super) struct RawFallback {
    pub(super) line: usize,
    pub(super) host: String,
    pub(super) port: Option<String>,
    pub(super) method: Method,
}

#[derive(Debug, Clone)]
pub(super) enum BlockAddr {
    Host {
        host: String,
        port: String,
    },
    Fwmark(u32),
    /// The virtual line was wrong (already reported).
    Invalid,
}

#[derive(Debug, Clone)]
pub(super) struct RawReal {
    pub(super) line: usize,
    pub(super) text: String,
}

/// A virtual block as written.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) line: usize,
    pub(super) family: Family,
    pub(super) addr: BlockAddr,
    pub(super) protocol: Protocol,
    pub(super) reals: Vec<RawReal>,
    pub(super) fallback: Option<RawFallback>,
    pub(super) fallbackcommand: Option<String>,
    pub(super) service: Option<Service>,
    pub(super) checktype: CheckType,
    pub(super) checkcommand: String,
    pub(super) checkport: Option<u16>,
    pub(super) checktimeout: Option<u32>,
    pub(super) negotiatetimeout: Option<u32>,
    pub(super) checkcount: Option<u32>,
    pub(super) failurecount: Option<u32>,
    pub(super) checkinterval: Option<(usize, u32)>,
    pub(super) request: String,
    pub(super) receive: String,
    pub(super) httpmethod: HttpMethod,
    pub(super) virtualhost: Option<String>,
    pub(super) login: String,
    pub(super) passwd: String,
    pub(super) database: String,
    pub(super) secret: String,
    pub(super) load: Option<String>,
    pub(super) scheduler: String,
    pub(super) persistent: Option<u32>,
    pub(super) netmask: Option<Netmask>,
    pub(super) schedflags: Option<(usize, String)>,
    pub(super) netmask_line: usize,
    pub(super) ops: Option<(usize, bool)>,
    pub(super) quiescent: Option<bool>,
    pub(super) cleanstop: Option<bool>,
    pub(super) tlsverify: Option<TlsVerify>,
    pub(super) emailalert: Option<Vec<String>>,
    pub(super) emailalertfreq: Option<u32>,
    pub(super) emailalertstatus: Option<AlertStatus>,
    pub(super) smtp: Option<String>,
    pub(super) monitorfile: Option<MonitorFile>,
    pub(super) servicename: Option<String>,
    pub(super) comment: Option<String>,
}

impl Block {
    pub(super) fn new(line: usize, family: Family, addr: BlockAddr, protocol: Protocol) -> Block {
        Block {
            line,
            family,
            service: matches!(addr, BlockAddr::Fwmark(_)).then_some(Service::None),
            addr,
            protocol,
            reals: Vec::new(),
            fallback: None,
            fallbackcommand: None,
            checktype: CheckType::Negotiate,
            checkcommand: "/bin/true".to_string(),
            checkport: None,
            checktimeout: None,
            negotiatetimeout: None,
            checkcount: None,
            failurecount: None,
            checkinterval: None,
            request: "/".to_string(),
            receive: String::new(),
            httpmethod: HttpMethod::Get,
            virtualhost: None,
            login: String::new(),
            passwd: String::new(),
            database: String::new(),
            secret: String::new(),
            load: None,
            scheduler: "wrr".to_string(),
            persistent: None,
            netmask: None,
            schedflags: None,
            netmask_line: 0,
            ops: None,
            quiescent: None,
            cleanstop: None,
            tlsverify: None,
            emailalert: None,
            emailalertfreq: None,
            emailalertstatus: None,
            smtp: None,
            monitorfile: None,
            servicename: None,
            comment: None,
        }
    }
}

/// Where the reader is relative to the last virtual block.
#[derive(Debug, Default)]
pub(super) struct BlockState {
    /// A blank line inside the current block (ldirectord ends the block there).
    pub(super) gap: Option<usize>,
    /// A global line after the current block (ldirectord ends the block there).
    pub(super) interrupted: Option<usize>,
}
