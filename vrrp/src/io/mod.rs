//! The kernel side of VRRP: raw advert sockets, VIPs through rtnetlink,
//! gratuitous ARP / unsolicited NA frames and link monitoring. Everything
//! here is I/O; protocol decisions live in the fsm.

pub mod garp;
pub mod garp_plan;
pub mod netlink;
pub mod notify;
pub mod socket;
mod sys;

use std::net::IpAddr;

/// Errors of the VRRP I/O layer, with the interface or address involved.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{what} on {ifname}: {source}")]
    Socket {
        what: &'static str,
        ifname: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sending advert on {ifname} to {dst}: {source}")]
    Send {
        ifname: String,
        dst: IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("sending frame on interface index {ifindex}: {source}")]
    Frame {
        ifindex: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("netlink {what}: {message}")]
    Netlink { what: &'static str, message: String },
    #[error("cannot {op} VIP {addr} on {ifname}: {message}")]
    Vip {
        addr: IpAddr,
        ifname: String,
        op: &'static str,
        message: String,
    },
    #[error("interface {0} does not exist")]
    NoInterface(String),
    #[error("interface {ifname} has no usable {family} address")]
    NoSourceAddress {
        ifname: String,
        family: &'static str,
    },
}
