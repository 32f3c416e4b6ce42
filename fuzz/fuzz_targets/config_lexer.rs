//! Fuzz target: arbitrary bytes through the whole preprocessing front end
//! (decoding, comments, `@id`, definitions and substitution, generators,
//! brace splitting) must neither panic nor run away. Includes are
//! disabled so the fuzzer cannot reach the file system.
#![no_main]

use confparse::preproc::{read_config_from_bytes, PreprocOptions};
use confparse::{Diagnostics, SourceMap};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let opts = PreprocOptions {
        config_id: Some("lb1".into()),
        random_seed: Some(1),
        disable_includes: true,
        // Keep runs short; the caps themselves are what is tested.
        max_lines: Some(20_000),
        max_subst_bytes: Some(4 << 20),
        ..Default::default()
    };
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let out = read_config_from_bytes(
        data,
        Path::new("/fuzz/keepalived.conf"),
        &opts,
        &mut sources,
        &mut diags,
    );
    for l in &out.lines {
        // Every span must point into a file we registered.
        assert!(sources.get(l.span.file).is_some());
        for w in &l.words {
            assert!(sources.get(w.span.file).is_some());
        }
    }
    // Script keywords re-split the raw text with the shell rules.
    if let Some(l) = out.lines.first() {
        let _ = confparse::shell::split(&l.raw);
    }
});
