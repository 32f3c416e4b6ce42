//! `check` walks the statements as the preprocessor produces them, in
//! batches, and puts the preprocessor's diagnostics first afterwards;
//! `check_lines` walks a fully collected list. Both must say exactly the
//! same thing (every diagnostic, span and status) on every fixture and
//! keepalived sample, including a file long enough for many batches and
//! files whose diagnostics come from both stages.

use confparse::preproc::{read_config_full, PreprocOptions};
use confparse::{check, check_lines, Diagnostics, LoadOptions, SourceMap};
use std::path::{Path, PathBuf};

fn opts() -> LoadOptions {
    LoadOptions {
        interfaces: Some(["lo", "eth0"].iter().map(|s| s.to_string()).collect()),
        config_id: Some("lb1".into()),
        ..Default::default()
    }
}

/// Diagnostics, status and whether there is a model, the collected way.
fn collected(path: &Path, opts: &LoadOptions) -> (Vec<String>, i32, bool) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let popts = PreprocOptions {
        config_id: opts.config_id.clone(),
        all_config: opts.all_config,
        ..Default::default()
    };
    let pre = read_config_full(path, &popts, &mut sources, &mut diags);
    let model = check_lines(&pre.lines, opts, &mut diags);
    let status = if pre.include_failed {
        confparse::diag::exit::SECURITY
    } else {
        diags.exit_status()
    };
    let items = diags.items.iter().map(|d| format!("{d:?}")).collect();
    (items, status, model.is_some() && !pre.include_failed)
}

fn streamed(path: &Path, opts: &LoadOptions) -> (Vec<String>, i32, bool) {
    let r = check(path, opts);
    let items = r
        .diagnostics
        .items
        .iter()
        .map(|d| format!("{d:?}"))
        .collect();
    (items, r.exit_status(), r.model.is_some())
}

fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "conf"));
    v.sort();
    v
}

#[test]
fn streamed_check_matches_collected_check_on_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = conf_files(&root.join("fixtures/configs"));
    files.extend(conf_files(Path::new(
        "/work/shared/corpus/keepalived-samples",
    )));
    assert!(files.len() > 100, "fixtures not found");
    for f in &files {
        assert_eq!(
            streamed(f, &opts()),
            collected(f, &opts()),
            "{}",
            f.display()
        );
    }
}

#[test]
fn streamed_check_matches_across_batches() {
    // Diagnostics from the preprocessor (an unknown `$` reference, a bad
    // `~SEQ`), from the walk (unknown keywords, a bad number) and from
    // validation, spread over many batches, with a block left open at the
    // end.
    let mut text = String::from("$X=1\n~SEQ(i, x)\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "vrrp_instance V{i} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {}\n  priority $X\n  bogus_{i} 1\n  advert_int 1.x\n  virtual_ipaddress {{\n    10.0.{}.{}\n  }}\n}}\n",
            i % 255 + 1,
            i / 250,
            i % 250 + 1
        ));
        if i % 500 == 0 {
            text.push_str("} # extra\n${UNDEFINED} x\n");
        }
    }
    text.push_str("global_defs {\n  router_id r\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("k.conf");
    std::fs::write(&f, text).expect("write");
    let (s, c) = (streamed(&f, &opts()), collected(&f, &opts()));
    assert!(s.0.len() > 2000, "expected diagnostics from every instance");
    assert_eq!(s, c);
}
