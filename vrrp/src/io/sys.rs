//! The one place in the VRRP I/O layer that needs `unsafe`: building a
//! `sockaddr_ll` link-layer address for AF_PACKET sends (gratuitous ARP and
//! unsolicited NA), which neither socket2 nor nix can construct safely, and
//! registering a raw socket with tokio's reactor.
#![allow(unsafe_code)]

use socket2::{SockAddr, SockAddrStorage, Socket};
use tokio::io::unix::AsyncFd;

/// Registers an owned socket with the tokio reactor (needs a runtime).
pub fn async_fd(sock: Socket) -> std::io::Result<AsyncFd<Socket>> {
    // SAFETY: `Socket` owns its descriptor and closes it only on drop; the
    // `AsyncFd` takes ownership of it, so the descriptor stays open and the
    // same for the whole life of the registration.
    unsafe { AsyncFd::register(sock) }.map_err(|e| e.into_parts().1)
}

/// A `sockaddr_ll` for sending one Ethernet frame out of `ifindex` to `mac`
/// with EtherType `ethertype` (host order).
pub fn link_sockaddr(ifindex: u32, ethertype: u16, mac: [u8; 6]) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_storage` is at least as large as and suitably aligned
    // for `sockaddr_ll` (both are plain C structs; storage is zeroed).
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = ethertype.to_be();
    ll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&mac);
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised `sockaddr_ll` of length `len`.
    unsafe { SockAddr::new(storage, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_ll_has_packet_family_and_length() {
        let a = link_sockaddr(7, 0x0806, [0xff; 6]);
        assert_eq!(i32::from(a.family()), libc::AF_PACKET);
        assert_eq!(a.len() as usize, std::mem::size_of::<libc::sockaddr_ll>());
    }
}
