//! The statement tree -> [`Model`], with a [`Note`] for every statement that has no
//! equivalent. Each block is walked with a `match` on its keywords whose last arm reports the
//! keyword as not carried over, so nothing is dropped without a line in the output.
//!
//! - `vrrp`: vrrp_instance, vrrp_sync_group -> the pair (ha.cf, authkeys, haresources)
//! - `track`: an instance's track_script / track_interface, notify and preempt_delay ->
//!   director.conf's `[track]`, `[[notify]]` and `[failback]`
//! - `lvs`: virtual_server(_group), real_server, checkers -> ldirectord blocks
//! - `walk`: the walk over the file; `mail`: global_defs (mail); `place`: which file each
//!   block goes to; `ctx`: the notes and the value readers every converter uses
//!
//! The mapping, and why (keepalived 2.2.7's keepalived.conf(5), ldirectord 1.186):
//! - vrrp_instance -> one haresources group: its VIPs as `IPaddr2::IP/PREFIX/DEV` (keepalived
//!   adds a VIP without a prefix as /32, /128 for IPv6), preferred node = this node when
//!   `state MASTER` (or priority 255), else the peer; `nopreempt` -> `auto_failback off`;
//!   `advert_int` -> `keepalive`, and 4 × advert_int -> `deadtime` (keepalived's master-down
//!   interval, 3 × advert_int + (256 − priority) × advert_int / 256, is below it at any
//!   priority); `auth_pass` -> the sha1 key of authkeys (none: crc, which authenticates
//!   nothing, as keepalived without authentication); `unicast_peer` -> `ucast IFACE PEER`, multicast -> `bcast IFACE` (both
//!   stay on the link, as VRRP's 224.0.0.18 with TTL 255 does).
//! - track_script (its vrrp_script) and track_interface -> director.conf's `[track]`, one set
//!   for the node (keepalived's weight: its size; none, keepalived's FAULT: the most, 127);
//!   notify_master / _backup / _fault / _stop / notify -> a `[[notify]]` table for the group
//!   (`name` = the instance, so scripts see their VI_1); preempt_delay -> `[failback] hold`.
//! - virtual_server -> one `virtual=` block (a group: one per member, ranges expanded, as
//!   keepalived programs one IPVS service per member); lb_algo/lvs_sched -> scheduler,
//!   lb_kind/lvs_method -> the method of every real (keepalived's default NAT -> masq),
//!   persistence -> persistent/netmask, sorry_server -> fallback, inhibit_on_failure ->
//!   quiescent=yes, delay_loop -> checkinterval, retry -> failurecount = retry + 1,
//!   connect_timeout -> checktimeout/negotiatetimeout.
//! - one checker per virtual (ldirectord has one check per virtual service): HTTP_GET ->
//!   negotiate http (keepalived's default status 200-299 is ldirectord's "2xx"), SSL_GET ->
//!   https, TCP_CHECK -> connect, SMTP_CHECK -> smtp, DNS_CHECK type A -> dns with
//!   receive ".", PING_CHECK -> ping, MISC_CHECK without arguments -> external.

mod ctx;
mod lvs;
mod mail;
mod place;
mod track;
mod vrrp;
mod walk;

#[cfg(test)]
pub(super) use lvs::{range, MAX_RANGE};
pub use walk::convert;
