//! Brace and keyword semantics of the tree builder, each case checked
//! against keepalived 2.2.7's `-t` (classes and statuses noted per test).

use confparse::{check_str, ErrClass, LoadOptions};

fn classes(text: &str) -> (Vec<(Option<ErrClass>, String)>, i32) {
    let r = check_str(text, &LoadOptions::default());
    let v = r
        .diagnostics
        .items
        .iter()
        .map(|d| (d.class, d.message.clone()))
        .collect();
    (v, r.exit_status())
}

fn has(v: &[(Option<ErrClass>, String)], class: ErrClass, msg: &str) -> bool {
    v.iter().any(|(c, m)| *c == Some(class) && m == msg)
}

// keepalived 2.2.7 -t on the same text: "Unknown keyword 'foo'",
// "Unexpected '{' - ignoring", "Unknown keyword '}'" (line 5), rc 5; the
// global_defs inside the unknown block is still read.
#[test]
fn unknown_block_body_is_read_in_enclosing_context() {
    let text = "foo {\n  global_defs {\n    router_id X\n  }\n}\n";
    let r = check_str(text, &LoadOptions::default());
    let v: Vec<_> = r
        .diagnostics
        .items
        .iter()
        .map(|d| (d.class, d.message.clone()))
        .collect();
    assert!(has(&v, ErrClass::UnknownKeyword, "Unknown keyword 'foo'"));
    assert!(has(
        &v,
        ErrClass::UnexpectedBob,
        "Unexpected '{' - ignoring"
    ));
    assert!(has(&v, ErrClass::UnknownKeyword, "Unknown keyword '}'"));
    assert_eq!(r.exit_status(), 5);
    let m = r.model.expect("runs");
    assert_eq!(m.global.router_id.as_deref(), Some("X"));
}

// keepalived: "Missing '{' at beginning of configuration block" then the
// next `}` closes the block and, the brace count being 0, "Extra '}' found".
#[test]
fn block_without_brace_reads_following_lines_inside() {
    let (v, rc) = classes("global_defs\nrouter_id Y\n}\n");
    assert!(has(
        &v,
        ErrClass::MissingBob,
        "Missing '{' at beginning of configuration block"
    ));
    assert!(has(&v, ErrClass::UnexpectedEob, "Extra '}' found"));
    assert_eq!(rc, 5);
}

// keepalived: "Block notification_email has extra parameters a@b ..." and
// the following lines up to the next `}` become entries.
#[test]
fn value_block_without_braces_swallows_lines() {
    let text = "global_defs {\n  notification_email a@b\n  router_id Z\n}\n";
    let r = check_str(text, &LoadOptions::default());
    assert!(r.diagnostics.items.iter().any(|d| d.message
        == "Block notification_email has extra parameters a@b ..."
        && d.class == Some(ErrClass::GeneralError)));
    let m = r.model.expect("runs");
    // router_id Z was swallowed as an e-mail entry.
    assert_eq!(m.global.router_id, None);
    assert!(m
        .global
        .notification_email
        .contains(&"router_id".to_string()));
}

// keepalived: "There are 1 missing '}'s or extra '{'s", rc 5.
#[test]
fn unbalanced_at_eof() {
    let (v, rc) = classes("global_defs {\n router_id A\n");
    assert!(has(
        &v,
        ErrClass::MissingEob,
        "There are 1 missing '}'s or extra '{'s"
    ));
    assert_eq!(rc, 5);
}

#[test]
fn extra_close_at_top_level() {
    let (v, rc) = classes("}\n");
    assert!(has(&v, ErrClass::UnexpectedEob, "Extra '}' found"));
    assert_eq!(rc, 5);
}

#[test]
fn deep_nesting_does_not_overflow() {
    let n = 100_000;
    let mut text = String::with_capacity(n * 4);
    for _ in 0..n {
        text.push_str("{\n");
    }
    for _ in 0..n {
        text.push_str("}\n");
    }
    let (v, rc) = classes(&text);
    assert!(!v.is_empty());
    assert_eq!(rc, 5);
    let mut text = String::new();
    text.push_str("global_defs {\n");
    for _ in 0..n {
        text.push_str("foo {\n");
    }
    for _ in 0..n {
        text.push_str("}\n");
    }
    let (_v, rc) = classes(&text);
    assert_eq!(rc, 5);
}

#[test]
fn did_you_mean_hint_for_misspelled_keyword() {
    let r = check_str(
        "global_defs {\n  router_idd X\n}\n",
        &LoadOptions::default(),
    );
    let d = &r.diagnostics.items[0];
    assert_eq!(d.message, "Unknown keyword 'router_idd'");
    assert_eq!(d.hint.as_deref(), Some("did you mean `router_id`?"));
}

// keepalived exits at once with status 2 on a missing parameter, even
// under -t (reference 1.9).
#[test]
fn missing_parameter_exits_2() {
    let (v, rc) = classes("global_defs {\n  vrrp_version\n}\n");
    assert!(v
        .iter()
        .any(|(c, _)| *c == Some(ErrClass::MissingParameter)));
    assert_eq!(rc, 2);
}
