//! The real keepalived 2.2.7 as a peer (VRRP) and as an oracle (`-t`), run inside lab hosts.
