//! VRRP v2 (RFC 3768) and v3 (RFC 5798) for IPv4 and IPv6: packet codec, sans-IO state machine, I/O runtime.
pub mod io;
