//! Test labs: network-namespace topologies, the IPVS VM, keepalived as a peer; shared by the integration suites and `keepalived-rs demo`.
