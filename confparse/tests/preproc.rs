//! Integration tests of the preprocessing front end: each directory under
//! `fixtures/preproc/` holds a `main.conf` (and what it includes) and an
//! `expected.txt` with the logical lines (file:line:col+len, words) and
//! the diagnostics. The expectations were checked against keepalived
//! 2.2.7 `-t` (see each fixture's comments and the report in
//! `fixtures/preproc/README.md`). `UPDATE_EXPECT=1` rewrites them.

use confparse::preproc::{read_config_from_str, read_config_full, PreprocOptions};
use confparse::{Diagnostics, ErrClass, SourceMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/preproc")
}

fn opts() -> PreprocOptions {
    PreprocOptions {
        config_id: Some("lb1".into()),
        random_seed: Some(7),
        ..Default::default()
    }
}

/// Render what the preprocessor made of `main.conf` in `case`.
fn render(case: &str, opts: &PreprocOptions) -> String {
    let dir = fixtures().join(case);
    let canon = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let out = read_config_full(&dir.join("main.conf"), opts, &mut sources, &mut diags);
    let rel = |id| {
        sources
            .path(id)
            .map(|p| {
                p.strip_prefix(&dir)
                    .unwrap_or(p)
                    .display()
                    .to_string()
                    .replace("/./", "/")
            })
            .unwrap_or_default()
    };
    let scrub = |s: &str| {
        s.replace(&canon.display().to_string(), "$FIXTURE")
            .replace(&dir.display().to_string(), "$FIXTURE")
    };
    let mut s = String::new();
    for l in &out.lines {
        let words: Vec<String> = l
            .words
            .iter()
            .map(|w| {
                if w.text.contains(' ') || w.text.is_empty() {
                    format!("{:?}", w.text)
                } else {
                    w.text.to_string()
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "{}:{}:{}+{}\t{}",
            rel(l.span.file),
            l.span.line,
            l.span.col,
            l.span.len,
            scrub(&words.join(" "))
        );
    }
    for d in &diags.items {
        let at = d
            .span
            .map(|sp| format!("{}:{}:{}", rel(sp.file), sp.line, sp.col))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "diag {:?} {:?} {at} {}",
            d.severity,
            d.class,
            scrub(&d.message)
        );
    }
    let _ = writeln!(s, "include_failed {}", out.include_failed);
    s
}

fn check_case(case: &str) {
    let got = render(case, &opts());
    let path = fixtures().join(case).join("expected.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &got).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(got, want, "case {case}: got\n{got}");
}

#[test]
fn basics() {
    check_case("basics");
}

#[test]
fn definitions() {
    check_case("defs");
}

#[test]
fn sequences_and_lists() {
    check_case("seq_lst");
}

#[test]
fn conditionals() {
    check_case("cond");
}

#[test]
fn includes() {
    check_case("include");
}

#[test]
fn include_cycle() {
    check_case("cycle");
}

#[test]
fn include_check() {
    check_case("include_check");
}

#[test]
fn strict_includes() {
    check_case("strict");
}

#[test]
fn missing_plain_include() {
    check_case("missing_plain");
}

/// Lines of `text` preprocessed on its own (includes disabled).
fn from_str(text: &str) -> (Vec<String>, Diagnostics) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let o = PreprocOptions {
        disable_includes: true,
        ..opts()
    };
    let out = read_config_from_str(
        text,
        Path::new("/virtual/k.conf"),
        &o,
        &mut sources,
        &mut diags,
    );
    let lines = out
        .lines
        .iter()
        .map(|l| {
            l.words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (lines, diags)
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("temp file: {e}"));
    std::fs::write(f.path(), bytes).unwrap_or_else(|e| panic!("write: {e}"));
    f
}

fn read_file(path: &Path) -> (Vec<String>, Diagnostics, bool) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let out = read_config_full(path, &opts(), &mut sources, &mut diags);
    let lines = out
        .lines
        .iter()
        .map(|l| {
            l.words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (lines, diags, out.include_failed)
}

#[test]
fn relative_path_from_another_cwd() {
    // cargo runs tests in the package directory, not the fixture's: the
    // includes must still resolve next to the including file.
    let rel = Path::new("../fixtures/preproc/include/main.conf");
    let (rel_lines, _, _) = read_file(rel);
    let (abs_lines, _, _) = read_file(&fixtures().join("include/main.conf"));
    assert_eq!(rel_lines, abs_lines);
    assert!(rel_lines.contains(&"deeper_relative_to_sub".to_string()));
}

#[test]
fn included_words_point_into_the_included_file() {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let out = read_config_full(
        &fixtures().join("include/main.conf"),
        &opts(),
        &mut sources,
        &mut diags,
    );
    let l = out
        .lines
        .iter()
        .find(|l| l.keyword() == "virtual_router_id")
        .unwrap_or_else(|| panic!("no virtual_router_id line"));
    let path = sources.path(l.words[1].span.file).map(|p| p.to_path_buf());
    assert!(path.is_some_and(|p| p.ends_with("conf.d/10-a.conf")));
    assert_eq!((l.words[1].span.line, l.words[1].span.col), (2, 21));
}

#[test]
fn nul_byte_cuts_the_line() {
    let (lines, diags) = from_str("a\0b c\nnext\n");
    assert_eq!(lines, vec!["a", "next"]);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags.items[0].span.map(|s| (s.line, s.col)), Some((1, 2)));
    assert_eq!(diags.exit_status(), 0);
}

#[test]
fn non_utf8_is_decoded_lossily_with_a_warning() {
    let f = temp_file(b"ok 1\na \xff b\n");
    let (lines, diags, _) = read_file(f.path());
    assert_eq!(lines, vec!["ok 1", "a \u{fffd} b"]);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags.items[0].span.map(|s| (s.line, s.col)), Some((2, 3)));
}

#[test]
fn binary_garbage_does_not_flood_diagnostics() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("l{i} \0 x\nq{i} \"unterminated\n"));
    }
    let (lines, diags) = from_str(&text);
    assert_eq!(lines.len(), 40_000);
    assert!(diags.len() <= confparse::preproc::MAX_DIAGNOSTICS + 2);
    assert_eq!(diags.worst_class(), Some(ErrClass::GeneralError));
}

#[test]
fn overlong_line_is_skipped_with_an_error() {
    let mut text = "x".repeat(confparse::preproc::MAX_LINE + 1);
    text.push_str("\nok\n");
    let (lines, diags) = from_str(&text);
    assert_eq!(lines, vec!["ok"]);
    assert_eq!(diags.worst_class(), Some(ErrClass::GeneralError));
}

#[test]
fn empty_file_gives_no_lines() {
    let f = temp_file(b"");
    let (lines, diags, _) = read_file(f.path());
    assert!(lines.is_empty());
    // Only a warning: keepalived -t accepts an empty file (rc 0).
    assert_eq!(diags.exit_status(), 0);
    assert_eq!(diags.len(), 1);
}

#[test]
fn missing_main_file_is_file_not_found() {
    let (lines, diags, _) = read_file(Path::new("/nonexistent/keepalived.conf"));
    assert!(lines.is_empty());
    assert_eq!(diags.worst_class(), Some(ErrClass::FileNotFound));
    assert_eq!(diags.exit_status(), 4);
}

#[test]
fn hundred_thousand_nested_braces_are_just_lines() {
    let mut text = "{\n".repeat(100_000);
    text.push_str(&"}\n".repeat(100_000));
    let (lines, diags) = from_str(&text);
    assert_eq!(lines.len(), 200_000);
    assert!(diags.is_empty());
}

#[test]
fn exponential_definitions_are_capped() {
    let mut text = String::from("$D0=xxxxxxxxxxxxxxxx\n");
    for i in 1..40 {
        text.push_str(&format!("$D{i}=$D{p} $D{p}\n", p = i - 1));
    }
    text.push_str("v $D39\nafter\n");
    let (lines, diags) = from_str(&text);
    assert!(diags.has_errors());
    assert_eq!(lines.last().map(String::as_str), Some("after"));
    assert!(lines
        .iter()
        .all(|l| l.len() <= confparse::preproc::MAX_EXPANSION));
}

/// The fuzz target lowers the total substitution cap: the error names the
/// lowered cap, and lines after it are still read.
#[test]
fn lowered_substitution_cap_applies() {
    let mut text = String::from("$D0=xxxxxxxxxxxxxxxx\n");
    for i in 1..16 {
        text.push_str(&format!("$D{i}=$D{p} $D{p}\n", p = i - 1));
    }
    // Each line expands to ~1 MiB: under the default cap all 8 expand.
    text.push_str(&"v $D15\n".repeat(8));
    text.push_str("after\n");
    let o = PreprocOptions {
        disable_includes: true,
        max_subst_bytes: Some(3 << 20),
        ..opts()
    };
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let out = read_config_from_str(&text, Path::new("/v/k.conf"), &o, &mut sources, &mut diags);
    let msgs: Vec<String> = diags.items.iter().map(|d| d.message.clone()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains(&format!("more than {} bytes in all", 3 << 20))),
        "{msgs:?}"
    );
    let expanded = out.lines.iter().filter(|l| l.raw.len() > 1 << 19).count();
    assert!((2..8).contains(&expanded), "{expanded} lines expanded");
    assert_eq!(out.lines.last().map(|l| l.raw.as_str()), Some("after"));
    let (_, d) = from_str(&text);
    assert!(!d.has_errors(), "default cap: 8 MiB in all is allowed");
}

#[test]
fn self_referencing_definitions_stop() {
    let (lines, diags) = from_str("$A=$A\n$A x\n$B=${B}\nz ${B}\n$M=\\\n$M\n$M\nend\n");
    assert!(diags.has_errors());
    assert_eq!(lines.last().map(String::as_str), Some("end"));
}

#[test]
fn self_replaying_multiline_definition_is_refused() {
    // keepalived replays this forever; found by fuzzing.
    let (lines, diags) = from_str("$IN=a \\\n$IN\n$IN\nend\n");
    assert_eq!(lines, vec!["a", "$IN", "end"]);
    assert!(diags.has_errors());
}

#[test]
fn generator_that_regenerates_itself_stops() {
    // Found by fuzzing: each replay of $S starts another ~SEQ of itself.
    let (lines, diags) = from_str("$S=~SEQ(k, 2)$S\n$S x\nend\n");
    assert_eq!(lines.last().map(String::as_str), Some("end"));
    assert!(diags.has_errors());
}

#[test]
fn value_with_braces_and_its_own_reference_stops() {
    // Found by fuzzing: every brace split re-substitutes the rest of the
    // line, which regrows faster than it is consumed.
    let (lines, diags) = from_str("$S=~SEQ(}~L$k, 2)$S\nla(EQ(k, 2)$S\nend\n");
    assert_eq!(lines.last().map(String::as_str), Some("end"));
    assert!(diags.has_errors());
}

#[test]
fn multiline_definitions_nest_and_replay_with_generators() {
    let text = "$IN=inner_a \\\ninner_b\n$OUT=outer_a \\\n$IN\n~SEQ(i, 2) $OUT\n";
    let (lines, _) = from_str(text);
    assert_eq!(
        lines,
        vec!["outer_a", "inner_a", "inner_b", "outer_a", "inner_a", "inner_b"]
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn bounded(text: &str) {
        let (lines, _) = from_str(text);
        // Generators may multiply lines, never beyond the caps.
        assert!(lines.len() as u64 <= confparse::preproc::MAX_GENERATED + 10 * text.len() as u64);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
            bounded(&s);
        }

        #[test]
        fn config_like_text_never_panics(
            lines in proptest::collection::vec(
                "([@$~{}\"#!\\\\ ]|[a-c]|SEQ|LST|\\(|\\)|,|=|\\^|_HASH|_RANDOM|include|[0-9]){0,24}",
                0..12,
            )
        ) {
            bounded(&lines.join("\n"));
        }

        /// Lines of plain words, blanks and braces take the one-pass path;
        /// a trailing comment sends the same lines down the general path
        /// (decomment, brace split, word split), which must give the same
        /// statements, spans and raw text.
        #[test]
        fn plain_lines_lex_like_the_general_path(
            lines in proptest::collection::vec(
                "([ \t{}]|[a-c]|include|[0-9]|[.]|/|=){0,24}",
                0..12,
            ),
            crlf in any::<bool>(),
        ) {
            let lex = |text: &str| {
                let mut sources = SourceMap::new();
                let mut diags = Diagnostics::new();
                let out = read_config_from_str(
                    text,
                    Path::new("/nonexistent/keepalived.conf"),
                    &PreprocOptions { disable_includes: true, ..opts() },
                    &mut sources,
                    &mut diags,
                );
                let d: Vec<String> = diags.items.iter().map(|d| format!("{:?} {:?}", d.span, d.message)).collect();
                (out.lines, d)
            };
            let eol = if crlf { "\r\n" } else { "\n" };
            let plain = lines.join(eol);
            let commented: Vec<String> = lines.iter().map(|l| format!("{l} #c")).collect();
            prop_assert_eq!(lex(&plain), lex(&commented.join(eol)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let f = temp_file(&b);
            let _ = read_file(f.path());
        }
    }
}

#[test]
fn all_config_makes_every_include_checked() {
    // keepalived -e: the missing plain include now stops it (rc 6).
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let o = PreprocOptions {
        all_config: true,
        ..opts()
    };
    let out = read_config_full(
        &fixtures().join("missing_plain/main.conf"),
        &o,
        &mut sources,
        &mut diags,
    );
    assert!(out.include_failed);
    assert_eq!(diags.worst_class(), Some(ErrClass::FileNotFound));
    let (_, _, failed) = read_file(&fixtures().join("missing_plain/main.conf"));
    assert!(!failed);
}
