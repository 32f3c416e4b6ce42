//! The tree builder: walks the logical lines with an explicit stack of block
//! frames (no recursion, so 100,000 nested braces cannot overflow the
//! stack), reproducing keepalived 2.2.7's brace handling
//! (lib/parser.c `process_stream`, `alloc_value_block`, `read_line`):
//!
//! - a block keyword takes its `{` on the next logical line (the lexer puts
//!   every brace on its own line); otherwise "Missing '{' at beginning of
//!   configuration block" and the line is read inside the new block;
//! - a stray `{` gives "Unexpected '{' - ignoring";
//! - an unknown keyword is reported and the lines after it are read in the
//!   *same* block, so the body of an unknown block is parsed in the
//!   enclosing context and its `}` closes the enclosing block;
//! - a value block without braces swallows the following lines up to the
//!   next `}` as entries ("Block X has extra parameters Y ...");
//! - brace accounting over the whole input: "Extra '}' found" and, at the
//!   end, "There are N missing '}'s or extra '{'s".

use crate::diag::{Diagnostic, ErrClass};
use crate::keywords::{suggest, Cx, Dispatch, Frame, ValuesRef};
use crate::lexer::LogicalLine;
use crate::source::Span;

enum Level {
    Keywords {
        frame: Box<dyn Frame>,
        need_bob: bool,
    },
    Values {
        r: ValuesRef,
        need_bob: bool,
    },
    /// A rejected block being skipped unread; `depth` 0 = its `{` not seen.
    Skip {
        depth: usize,
        fallback: Option<Box<dyn Frame>>,
    },
}

/// Walk `lines` starting with `top` as the top-level frame; every block is
/// closed (its sink run) by its `}` or at the end of the input, like
/// keepalived runs close handlers at EOF. Returns the top frame.
pub fn walk(lines: &[LogicalLine], top: Box<dyn Frame>, cx: &mut Cx) -> Box<dyn Frame> {
    let mut stack: Vec<Level> = vec![Level::Keywords {
        frame: top,
        need_bob: false,
    }];
    let mut depth: usize = 0;
    for (idx, line) in lines.iter().enumerate() {
        if line.words.is_empty() {
            continue;
        }
        let is_open = line.is_open();
        let is_close = line.is_close();
        // read_line's global brace count.
        if is_open {
            depth += 1;
        } else if is_close {
            if depth == 0 {
                cx.error(ErrClass::UnexpectedEob, Some(line.span), "Extra '}' found");
                // keepalived also reports "Unknown keyword '}'" at the top
                // level; one diagnostic per problem is enough.
                if stack.len() == 1 {
                    continue;
                }
            } else {
                depth -= 1;
            }
        }
        if let Some(Level::Skip { depth, .. }) = stack.last_mut() {
            if *depth == 0 {
                if is_open {
                    *depth = 1;
                    continue;
                }
                // No `{` after the rejected keyword: nothing to skip; with
                // a fallback frame the lines are read inside it.
                if let Some(Level::Skip {
                    fallback: Some(f), ..
                }) = stack.pop()
                {
                    stack.push(Level::Keywords {
                        frame: f,
                        need_bob: true,
                    });
                }
            } else {
                if is_open {
                    *depth += 1;
                } else if is_close {
                    *depth -= 1;
                }
                if *depth == 0 {
                    stack.pop();
                }
                continue;
            }
        }
        let level = stack.len() - 1;
        let Some(top) = stack.last_mut() else { break };
        match top {
            Level::Values { r, need_bob } => {
                if *need_bob {
                    *need_bob = false;
                    if is_open {
                        continue;
                    }
                    let block = r.block;
                    cx.info(
                        line.span,
                        format!("'{{' missing from beginning of block {block}"),
                    );
                }
                if is_close {
                    stack.pop();
                    continue;
                }
                // The value block's entries go to the state of the keyword
                // frame just below it.
                let (values, rest) = stack.split_at_mut(level);
                let (Some(Level::Keywords { frame, .. }), Some(Level::Values { r, .. })) =
                    (values.last_mut(), rest.first())
                else {
                    continue;
                };
                (r.entry)(frame.as_mut(), cx, line);
            }
            Level::Skip { .. } => {}
            Level::Keywords { frame, need_bob } => {
                if *need_bob {
                    *need_bob = false;
                    if is_open && level > 0 {
                        continue;
                    }
                    cx.error(
                        ErrClass::MissingBob,
                        Some(line.span),
                        "Missing '{' at beginning of configuration block",
                    );
                } else if is_open {
                    cx.error(
                        ErrClass::UnexpectedBob,
                        Some(line.span),
                        "Unexpected '{' - ignoring",
                    );
                    continue;
                }
                if is_close && level > 0 {
                    close_top(&mut stack, cx);
                    continue;
                }
                if level == 0 {
                    cx.top_marks.push((cx.diags.items.len(), idx));
                }
                match frame.keyword(cx, line) {
                    Dispatch::Done => {}
                    Dispatch::Skip => stack.push(Level::Skip {
                        depth: 0,
                        fallback: None,
                    }),
                    Dispatch::SkipOr(f) => stack.push(Level::Skip {
                        depth: 0,
                        fallback: Some(f),
                    }),
                    Dispatch::Open(child) => stack.push(Level::Keywords {
                        frame: child,
                        need_bob: true,
                    }),
                    Dispatch::OpenValues(r) => {
                        if let Some(extra) = line.words.get(1) {
                            cx.general(
                                extra.span,
                                format!(
                                    "Block {} has extra parameters {} ...",
                                    line.keyword(),
                                    extra.text
                                ),
                            );
                        }
                        stack.push(Level::Values { r, need_bob: true });
                    }
                    Dispatch::Unknown => {
                        let kw = line.keyword();
                        let span = line.words.first().map(|w| w.span);
                        let mut d = Diagnostic::error(
                            ErrClass::UnknownKeyword,
                            span,
                            format!("Unknown keyword '{kw}'"),
                        );
                        let names = frame.keyword_names();
                        if let Some(s) = suggest(kw, names.iter().copied()) {
                            d = d.with_hint(format!("did you mean `{s}`?"));
                        } else {
                            d = d.with_hint(format!(
                                "not a keyword of {}",
                                match frame.block_name() {
                                    "" => "the top level".to_string(),
                                    b => format!("`{b}`"),
                                }
                            ));
                        }
                        cx.diags.push(d);
                    }
                }
            }
        }
    }
    while stack.len() > 1 {
        close_top(&mut stack, cx);
    }
    if depth > 0 {
        let span = lines.last().map(|l| {
            Span::new(
                l.span.file,
                l.span.line,
                l.span.col.saturating_add(l.span.len),
                1,
            )
        });
        cx.error(
            ErrClass::MissingEob,
            span,
            format!("There are {depth} missing '}}'s or extra '{{'s"),
        );
    }
    match stack.pop() {
        Some(Level::Keywords { frame, .. }) => frame,
        // The bottom level is always the keyword frame pushed first.
        _ => unreachable_top(),
    }
}

/// Pop the innermost level; a keyword frame hands its state to its parent.
fn close_top(stack: &mut Vec<Level>, cx: &mut Cx) {
    if let Some(Level::Keywords { frame, .. }) = stack.pop() {
        let parent = stack.iter_mut().rev().find_map(|l| match l {
            Level::Keywords { frame, .. } => Some(frame.as_mut()),
            Level::Values { .. } | Level::Skip { .. } => None,
        });
        frame.close(cx, parent);
    }
}

fn unreachable_top() -> Box<dyn Frame> {
    // Level 0 is a keyword frame and is never popped inside the loop
    // (`}` at level 0 is reported, not popped), so this cannot happen; an
    // empty frame keeps the function total without a panic.
    struct Empty;
    impl Frame for Empty {
        fn block_name(&self) -> &'static str {
            ""
        }
        fn keyword(&mut self, _cx: &mut Cx, _line: &LogicalLine) -> Dispatch {
            Dispatch::Unknown
        }
        fn close(self: Box<Self>, _cx: &mut Cx, _parent: Option<&mut dyn Frame>) {}
        fn state_for(&mut self, _want: std::any::TypeId) -> Option<&mut dyn std::any::Any> {
            None
        }
        fn keyword_names(&self) -> Vec<&'static str> {
            Vec::new()
        }
    }
    Box::new(Empty)
}

/// Which keepalived process reads a top-level keyword: the parent reads
/// `global_defs` and the top-level scalars, the checker process the LVS
/// blocks, the BFD process `bfd_instance`, the VRRP process the rest.
/// `None` for keywords no process knows.
pub fn owner_of(kw: &str) -> Option<u8> {
    match kw {
        "global_defs"
        | "net_namespace"
        | "net_namespace_ipvs"
        | "namespace_with_ipsets"
        | "instance"
        | "use_pid_dir"
        | "child_wait_time"
        | "linkbeat_use_polling" => Some(0),
        "virtual_server" | "virtual_server_group" | "SSL" => Some(2),
        "bfd_instance" => Some(3),
        "vrrp_instance"
        | "vrrp_script"
        | "vrrp_sync_group"
        | "track_file"
        | "vrrp_track_file"
        | "vrrp_track_process"
        | "track_group"
        | "garp_group"
        | "static_ipaddress"
        | "static_routes"
        | "static_rules"
        | "linkbeat_interfaces"
        | "interface_up_down_delays" => Some(1),
        _ => None,
    }
}

/// keepalived parses the file once per process, and each process skips
/// the blocks of the others by counting braces from their `{`
/// (lib/parser.c `skip_sublevel`), whatever the block's keywords made of
/// them for its own process. So a block whose braces do not pair up the
/// way its own process read it hides the statements that follow, up to the
/// `}` that balances its `{` (or the end of the file), from every other
/// process. Returns, for each top-level statement (by index into
/// `marks`), `Some(owner)` of the block hiding it from its own process.
pub fn hidden_from_owner(lines: &[LogicalLine], marks: &[(usize, usize)]) -> Vec<Option<u8>> {
    // Pair braces over the whole input in one pass.
    let mut pair: Vec<Option<usize>> = vec![None; lines.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.is_open() {
            open.push(i);
        } else if l.is_close() {
            if let Some(o) = open.pop() {
                pair[o] = Some(i);
            }
        }
    }
    let mut out = vec![None; marks.len()];
    // The block being skipped by the other processes: (last line, owner).
    let mut skipping: Option<(usize, u8)> = None;
    for (m, &(_, idx)) in marks.iter().enumerate() {
        let owner = lines.get(idx).and_then(|l| owner_of(l.keyword()));
        if let Some((end, by)) = skipping {
            if idx <= end {
                if owner.is_some() && owner != Some(by) {
                    out[m] = Some(by);
                }
                continue;
            }
            skipping = None;
        }
        let Some(owner) = owner else { continue };
        let next = idx + 1;
        if lines.get(next).is_some_and(|l| l.is_open()) {
            let end = pair[next].unwrap_or(usize::MAX);
            skipping = Some((end, owner));
        }
    }
    out
}
