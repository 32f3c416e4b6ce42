//! IPVS over the kernel's generic netlink family "IPVS": client, in-memory fake, and the reconciler.
//!
//! - [`consts`]: numbers from `include/uapi/linux/ip_vs.h`, spelled once.
//! - [`types`]: identities ([`ServiceKey`], [`DestKey`]), settings
//!   ([`Service`], [`Dest`]) and counters ([`Stats`]) kept apart.
//! - [`message`], [`wire`]: the family's messages as `netlink-packet-generic`
//!   types and their framing; the reply decoder never panics.
//! - [`IpvsClient`]: the interface; [`NetlinkIpvs`] (kernel) and [`FakeIpvs`].
//! - [`reconcile`]: desired table, pure `plan`, pipelined `apply`.

pub mod client;
pub mod consts;
pub mod error;
pub mod fake;
pub mod message;
pub mod model;
pub mod netlink;
pub mod reconcile;
pub mod show;
pub mod types;
pub mod wire;

pub use client::{IpvsClient, Op};
pub use error::{DecodeError, IpvsError};
pub use fake::FakeIpvs;
pub use netlink::NetlinkIpvs;
pub use reconcile::{
    apply, plan, plan_stop, read_table, ActualTable, ApplyReport, DesiredTable, RealServer,
    Reconciler, SorryServer, StopPolicy, VirtualServer,
};
pub use types::*;
