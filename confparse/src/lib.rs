//! keepalived.conf → validated, defaults-filled [`Model`]. Pure: reads files,
//! opens no sockets and starts no threads. The same path serves `-t` and the
//! daemon.
//!
//! Entry points: [`check`] (everything `-t` reports, and the model when the
//! configuration can run) and [`load`] (the model or the report).

pub mod diag;
pub mod global;
pub mod keywords;
pub mod lexer;
pub mod lvs;
pub mod model;
pub mod parse;
pub mod preproc;
pub mod shell;
pub mod source;
pub mod validate;
pub mod vrrp;

pub use diag::{Diagnostic, Diagnostics, ErrClass, Severity};
pub use model::*;
pub use source::{FileId, SourceMap, Span};

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What a load needs to know about the machine and the command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-i/--config-id`: the id `@ID` lines are matched against.
    pub config_id: Option<String>,
    /// `-e/--all-config`: any missing include is fatal.
    pub all_config: bool,
    /// Names of the interfaces that exist (keepalived checks instance
    /// interfaces against the kernel's list). `None` = do not check.
    pub interfaces: Option<HashSet<String>>,
    /// Check scripts on disk (existence, ownership, permissions) the way
    /// keepalived's script security does. Off for pure unit tests.
    pub check_scripts: bool,
    /// Check that a configured `net_namespace` exists (/run/netns/NAME).
    pub check_namespaces: bool,
}

impl LoadOptions {
    /// Options for checking a configuration on this machine: interfaces
    /// from /sys/class/net, scripts checked on disk.
    pub fn for_this_host() -> Self {
        LoadOptions {
            interfaces: host_interfaces(),
            check_scripts: true,
            check_namespaces: true,
            ..Default::default()
        }
    }
}

/// The interface names in /sys/class/net, if readable.
pub fn host_interfaces() -> Option<HashSet<String>> {
    let rd = std::fs::read_dir("/sys/class/net").ok()?;
    Some(
        rd.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

/// Whether the system user `name` exists (/etc/passwd).
pub fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// Everything a load found: the files read, the diagnostics, and the model
/// when the configuration can run.
#[derive(Debug, Clone)]
pub struct Report {
    pub path: PathBuf,
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    pub model: Option<Model>,
    /// A strictly checked include (`includea`, `includem`, ..., `-e`) was
    /// missing: keepalived 2.2.7 then exits "not configured" with status 6,
    /// also under `-t` (observed), whatever else was reported.
    pub include_failed: bool,
}

impl Report {
    /// keepalived 2.2.7's `-t` exit status for this configuration.
    pub fn exit_status(&self) -> i32 {
        if self.include_failed {
            return diag::exit::SECURITY;
        }
        self.diagnostics.exit_status()
    }

    /// The diagnostics rendered like a compiler's.
    pub fn render(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

/// Parse and validate the configuration at `path`, as `keepalived -t`
/// does. `model` is `None` when keepalived could not run it (a fatal class
/// or a missing parameter).
pub fn check(path: &Path, opts: &LoadOptions) -> Report {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let popts = preproc::PreprocOptions {
        config_id: opts.config_id.clone(),
        all_config: opts.all_config,
        ..Default::default()
    };
    // The preprocessor's diagnostics are kept apart while the walk runs
    // alongside it, and put first afterwards: the order of a full
    // preprocessing pass followed by the walk, which is keepalived's.
    let mut pre_diags = Diagnostics::new();
    let mut cx = keywords::Cx::new(&mut diagnostics, opts);
    let mut walker = parse::Walker::new(top_frame());
    let include_failed =
        preproc::read_config_streamed(path, &popts, &mut sources, &mut pre_diags, |batch| {
            walker.feed(batch, &mut cx)
        });
    let model = finish_check(walker, cx, pre_diags, opts);
    Report {
        path: path.to_path_buf(),
        sources,
        diagnostics,
        // keepalived does not run at all after a failed checked include.
        model: model.filter(|_| !include_failed),
        include_failed,
    }
}

/// The top-level keyword frame.
fn top_frame() -> Box<dyn keywords::Frame> {
    Box::new(keywords::TableFrame::<global::ConfB, ()>::new(
        global::ConfB::default(),
        None,
    ))
}

/// Put the preprocessor's diagnostics `pre` before those of the walk in
/// `cx`, as if they had been pushed first (the same repeat filter), and
/// move the walk's diagnostic marks along.
fn prepend_diagnostics(cx: &mut keywords::Cx, pre: Diagnostics) {
    if pre.items.is_empty() {
        return;
    }
    let walked = std::mem::replace(&mut cx.diags.items, pre.items);
    // moved[k]: where the walk's first k diagnostics end now.
    let mut moved = Vec::with_capacity(walked.len() + 1);
    moved.push(cx.diags.items.len());
    for d in walked {
        cx.diags.push(d);
        moved.push(cx.diags.items.len());
    }
    for m in &mut cx.top_marks {
        m.0 = moved.get(m.0).copied().unwrap_or(cx.diags.items.len());
    }
}

/// The part of [`check`] after preprocessing: walk the logical lines,
/// build and validate the model.
pub fn check_lines(
    lines: &[lexer::LogicalLine],
    opts: &LoadOptions,
    diagnostics: &mut Diagnostics,
) -> Option<Model> {
    let mut cx = keywords::Cx::new(diagnostics, opts);
    let mut walker = parse::Walker::new(top_frame());
    walker.feed(lines, &mut cx);
    finish_check(walker, cx, Diagnostics::new(), opts)
}

/// Everything after the walk: close it, then the hidden blocks, the
/// model's validation and what keepalived's parent checks.
fn finish_check(
    walker: parse::Walker,
    mut cx: keywords::Cx,
    pre: Diagnostics,
    opts: &LoadOptions,
) -> Option<Model> {
    let (mut top, shapes) = walker.finish(&mut cx);
    prepend_diagnostics(&mut cx, pre);
    let hidden = parse::hidden_from_owner(&shapes, &cx.top_marks, &cx.top_owners);
    let conf = top
        .state_for(std::any::TypeId::of::<global::ConfB>())
        .and_then(|a| a.downcast_mut::<global::ConfB>())
        .map(std::mem::take)
        .unwrap_or_default();
    let mut conf = conf;
    if hidden.iter().any(Option::is_some) {
        hide_from_other_processes(&mut cx, &mut conf, &hidden);
    }
    let model = validate::finish(conf, &mut cx);
    let missing = cx.missing_parameter;
    if let Some(ns) = model.top.net_namespace.as_deref() {
        if opts.check_namespaces && !Path::new("/run/netns").join(ns).exists() {
            // Only the parent parsed: a missing parameter outside what it
            // reads (global_defs and the top-level scalars) never stops it.
            let marks = cx.top_marks.clone();
            let mut parent_missing = false;
            for (k, &(d0, _)) in marks.iter().enumerate() {
                let d1 = marks
                    .get(k + 1)
                    .map(|x| x.0)
                    .unwrap_or(cx.diags.items.len());
                let parent = cx.top_owners.get(k).and_then(|o| o.0) == Some(0);
                for d in cx.diags.items.iter().take(d1).skip(d0) {
                    if d.class == Some(ErrClass::MissingParameter) && parent {
                        parent_missing = true;
                    }
                }
            }
            if parent_missing {
                return None;
            }
            // keepalived 2.2.7 (main.c): the parent cannot enter the
            // namespace and exits with status 0 before any process
            // validates; only the parent's parse messages were printed
            // (observed: -t gives 0 whatever they were).
            for d in &mut cx.diags.items {
                d.class = None;
            }
            cx.diags.push(
                Diagnostic::error(
                    ErrClass::Fatal,
                    None,
                    format!("Unable to set network namespace {ns} - exiting"),
                )
                .with_hint("keepalived 2.2.7 -t still exits 0 here; create the namespace first"),
            );
            if let Some(d) = cx.diags.items.last_mut() {
                d.class = None;
            }
            return None;
        }
    }
    // keepalived cannot run the configuration after a missing parameter or
    // any error of a "cannot run" class, even when a milder class masks it
    // in the -t status.
    let cannot_run = cx
        .diags
        .items
        .iter()
        .any(|d| d.class.is_some_and(|c| c < ErrClass::MultipleFiles));
    if missing || cannot_run {
        return None;
    }
    Some(model)
}

/// Statements that keepalived's process for them never reads (see
/// `parse::hidden_from_owner`): a missing parameter there does not stop
/// keepalived, and VRRP objects defined there do not exist for the VRRP
/// process.
fn hide_from_other_processes(
    cx: &mut keywords::Cx,
    conf: &mut global::ConfB,
    hidden: &[Option<u8>],
) {
    let marks = cx.top_marks.clone();
    let mut vrrp_hidden: Vec<Span> = Vec::new();
    for (k, &(d0, _)) in marks.iter().enumerate() {
        if hidden.get(k).copied().flatten().is_none() {
            continue;
        }
        let d1 = marks
            .get(k + 1)
            .map(|x| x.0)
            .unwrap_or(cx.diags.items.len());
        for d in cx.diags.items.iter_mut().take(d1).skip(d0) {
            if d.class == Some(ErrClass::MissingParameter) {
                d.class = None;
                d.hint = Some(
                    "keepalived's process for this block never reads it: an earlier block's braces hide it"
                        .to_string(),
                );
            }
        }
        if let Some(&(Some(1), span)) = cx.top_owners.get(k) {
            vrrp_hidden.push(span);
        }
    }
    cx.missing_parameter = cx
        .diags
        .items
        .iter()
        .any(|d| d.class == Some(ErrClass::MissingParameter));
    if !vrrp_hidden.is_empty() {
        let hid = |sp: &Span| {
            vrrp_hidden
                .iter()
                .any(|h| h.file == sp.file && h.line == sp.line)
        };
        conf.vrrp.instances.retain(|i| !hid(&i.span));
        conf.vrrp.scripts.retain(|i| !hid(&i.span));
        conf.vrrp.sync_groups.retain(|i| !hid(&i.span));
    }
}

/// Load the configuration for running: the model and its (non-fatal)
/// diagnostics, or the whole report when it cannot run.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<(Model, Diagnostics), Box<Report>> {
    let mut r = check(path, opts);
    match r.model.take() {
        Some(m) => Ok((m, r.diagnostics)),
        None => Err(Box::new(r)),
    }
}

/// [`check_lines`] on a string, split by the lexer only (no include, `@`,
/// `$` or `~` preprocessing): for tests of the keyword tables.
pub fn check_str(text: &str, opts: &LoadOptions) -> Report {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let file = sources.add(PathBuf::from("keepalived.conf"), text.to_string());
    let mut lines = Vec::new();
    for (i, l) in text.split('\n').enumerate() {
        let l = l.strip_suffix('\r').unwrap_or(l);
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        lines.extend(lexer::split_line(file, n, l, &mut diagnostics));
    }
    let model = check_lines(&lines, opts, &mut diagnostics);
    Report {
        path: PathBuf::from("keepalived.conf"),
        sources,
        diagnostics,
        model,
        include_failed: false,
    }
}
