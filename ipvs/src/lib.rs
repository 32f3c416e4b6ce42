//! IPVS over the kernel's generic netlink family "IPVS": client, in-memory fake, and the reconciler.
