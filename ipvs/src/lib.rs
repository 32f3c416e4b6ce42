//! IPVS over the kernel's generic netlink family "IPVS": client, in-memory fake, and the reconciler.
//!
//! - [`consts`]: numbers from `include/uapi/linux/ip_vs.h`, spelled once.
//! - [`types`]: identities ([`ServiceKey`], [`DestKey`]), settings
//!   ([`Service`], [`Dest`]) and counters ([`Stats`]) kept apart.
//! - [`message`], [`wire`]: the family's messages as `netlink-packet-generic`
//!   types and their framing; the reply decoder never panics.
//! - [`IpvsClient`]: the interface; [`NetlinkIpvs`] (kernel) and [`FakeIpvs`].
//! - [`reconcile`]: desired table, pure `plan`, pipelined `apply`.
//! - [`model`]: the desired table from confparse's `LvsConfig` and the
//!   global `lvs_*` settings.
//! - [`show`]: `ipvsadm -Ln`-style listings.
//!
//! How the daemon uses it:
//!
//! ```text
//! let mut kernel = NetlinkIpvs::connect()?;            // IpvsError::NotAvailable without IPVS
//! let mut rec = Reconciler::new();
//! let table = model::desired_from_model(&m.lvs, &m.global, &health)?;
//! rec.start(&mut kernel, &table, model::flush_at_start(&m.global))?;
//! // on a health transition: rebuild `table`, then (no full read)
//! rec.reconcile_cached(&mut kernel, &table)?;          // report.applied.failed: ops that failed, with errno
//! // on reload and periodically (repairs drift made behind our back):
//! rec.reconcile(&mut kernel, &table)?;
//! // at shutdown:
//! rec.stop(&mut kernel, model::stop_policy(&m.global, dont_release_ipvs))?;
//! ```
//!
//! `Health` is keyed by the positions of virtual and real servers in
//! `LvsConfig`; the caller re-keys it across reloads.

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
