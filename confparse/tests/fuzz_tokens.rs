//! Property: any stream of configuration tokens (keywords of every block,
//! braces, numbers, addresses, quotes, garbage) loads without panicking,
//! and a configuration reported as runnable has a model.

use confparse::{check_str, LoadOptions};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "{",
    "}",
    "global_defs",
    "vrrp_instance",
    "VI_1",
    "VI_2",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "group",
    "track_script",
    "track_interface",
    "track_file",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "authentication",
    "auth_type",
    "auth_pass",
    "PASS",
    "AH",
    "state",
    "MASTER",
    "BACKUP",
    "interface",
    "eth0",
    "eth9",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt_delay",
    "version",
    "unicast_peer",
    "unicast_src_ip",
    "script",
    "interval",
    "weight",
    "rise",
    "fall",
    "reverse",
    "dev",
    "label",
    "brd",
    "+",
    "scope",
    "link",
    "via",
    "table",
    "from",
    "to",
    "default",
    "10.0.0.1",
    "10.0.0.1/24",
    "fe80::1",
    "2001:db8::1/64",
    "0",
    "1",
    "255",
    "256",
    "-3",
    "1.5",
    "0.001",
    "abc",
    "\"/bin/true\"",
    "\"a b\"",
    "router_id",
    "vrrp_garp_interval",
    "lvs_sync_daemon",
    "lvs_timeouts",
    "tcp",
    "enable_script_security",
    "track_group",
    "garp_group",
    "bfd_instance",
    "vrrp_track_process",
    "process",
    "linkbeat_interfaces",
    "interface_up_down_delays",
    "net_namespace",
    "use_vmac",
    "notify_master",
    "notification_email",
    "smtp_server",
    "virtual_server",
    "real_server",
    "TCP_CHECK",
    "connect_timeout",
    "#",
    "!",
    "\"",
];

fn token_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(TOKENS),
            prop::sample::select(&[" ", " ", "\n", "\n", "\t", " {\n", "\n}\n"][..]),
        ),
        0..200,
    )
    .prop_map(|v| {
        let mut s = String::new();
        for (t, sep) in v {
            s.push_str(t);
            s.push_str(sep);
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn token_streams_never_panic(text in token_text()) {
        let opts = LoadOptions {
            interfaces: Some(["lo", "eth0"].iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        let r = check_str(&text, &opts);
        let status = r.exit_status();
        prop_assert!([0, 2, 4, 5, 6].contains(&status));
        if status == 0 {
            prop_assert!(r.model.is_some());
        }
        // Rendering never panics either.
        let _ = r.render();
    }

    #[test]
    fn arbitrary_bytes_never_panic(text in "\\PC{0,400}") {
        let r = check_str(&text, &LoadOptions::default());
        let _ = r.render();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// `check` (the walk fed in batches behind the preprocessor, its
    /// diagnostics put first afterwards) says exactly what the collected
    /// path says, on token streams with preprocessor diagnostics mixed in.
    #[test]
    fn streamed_check_matches_collected(
        text in token_text(),
        pre in prop::sample::select(&["", "~SEQ(i, x)\n", "$X=1\n~LST(a, b)\n", "@nope x\n"][..]),
        post in prop::sample::select(&["", "~SEQ(i, x)\n", "}\n"][..]),
    ) {
        use confparse::preproc::{read_config_full, PreprocOptions};
        let text = format!("{pre}{text}{post}");
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let f = dir.path().join("keepalived.conf");
        std::fs::write(&f, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let opts = LoadOptions {
            interfaces: Some(["lo", "eth0"].iter().map(|s| s.to_string()).collect()),
            config_id: Some("lb1".into()),
            ..Default::default()
        };
        let r = confparse::check(&f, &opts);
        let mut sources = confparse::SourceMap::new();
        let mut diags = confparse::Diagnostics::new();
        let popts = PreprocOptions { config_id: opts.config_id.clone(), ..Default::default() };
        let lines = read_config_full(&f, &popts, &mut sources, &mut diags).lines;
        let model = confparse::check_lines(&lines, &opts, &mut diags);
        let fmt = |d: &confparse::Diagnostics| d.items.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>();
        prop_assert_eq!(fmt(&r.diagnostics), fmt(&diags));
        prop_assert_eq!(r.model.is_some(), model.is_some());
    }
}
