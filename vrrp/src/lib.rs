//! VRRP v2 (RFC 3768) and v3 (RFC 5798) for IPv4 and IPv6: packet codec, sans-IO state machine, I/O runtime.
//!
//! The protocol core does no I/O and reads no clock:
//! - [`packet`]: adverts as plain structs (`Advert`, `Ipv4Packet`, `AhHeader`)
//!   with `encode`/`decode`, checksums (v3 pseudo-header or `v3_checksum_as_v2`).
//! - [`auth`]: VRRPv2 PASS compare and keepalived's IPsec-AH ICV (HMAC-MD5-96).
//! - [`check`]: every receive test keepalived 2.2.7 makes (`Receiver`), one
//!   counter per `DropReason`; only a valid `RxAdvert` reaches the state machine.
//! - [`fsm`]: `Instance::step(now, Input) -> Vec<Action>` for one instance,
//!   configured by `InstanceCfg`; `next_deadline()` is its only timer.
//! - [`timers`]: the `Instant` clock type and the skew / master-down formulas.
//!
//! [`io`] and [`runtime`] execute the actions on real sockets and netlink.
pub mod auth;
pub mod check;
pub mod fsm;
pub mod io;
pub mod packet;
pub mod runtime;
pub mod timers;
