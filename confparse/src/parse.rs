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
    let mut w = Walker::new(top);
    w.feed(lines, cx);
    w.finish(cx).0
}

/// What [`hidden_from_owner`] needs of each logical line once the line
/// itself is gone: whether it is a lone `{`, a lone `}`, or anything else.
pub const SHAPE_OTHER: u8 = 0;
/// A lone `{` (see [`SHAPE_OTHER`]).
pub const SHAPE_OPEN: u8 = 1;
/// A lone `}` (see [`SHAPE_OTHER`]).
pub const SHAPE_CLOSE: u8 = 2;

/// The tree builder as a resumable walk: statements are fed in batches as
/// the preprocessor produces them, so the whole file never has to be held
/// as logical lines (at 2,000 x 20 virtual servers those were ~45 MiB).
/// Indexes (`Cx::top_marks`) count statements from the first batch.
pub struct Walker {
    stack: Vec<Level>,
    /// read_line's global brace count.
    depth: usize,
    /// Index of the next statement fed.
    next: usize,
    /// The last statement's span (for "missing '}'" at the end).
    last_span: Option<Span>,
    /// Every statement's shape, for [`hidden_from_owner`].
    shapes: Vec<u8>,
}

impl Walker {
    pub fn new(top: Box<dyn Frame>) -> Self {
        Walker {
            stack: vec![Level::Keywords {
                frame: top,
                need_bob: false,
            }],
            depth: 0,
            next: 0,
            last_span: None,
            shapes: Vec::new(),
        }
    }

    /// Walk the next statements.
    pub fn feed(&mut self, lines: &[LogicalLine], cx: &mut Cx) {
        self.shapes.reserve(lines.len());
        for line in lines {
            let idx = self.next;
            self.next += 1;
            self.last_span = Some(line.span);
            let is_open = line.is_open();
            let is_close = line.is_close();
            self.shapes.push(if is_open {
                SHAPE_OPEN
            } else if is_close {
                SHAPE_CLOSE
            } else {
                SHAPE_OTHER
            });
            if !line.words.is_empty() {
                self.statement(idx, line, is_open, is_close, cx);
            }
        }
    }

    fn statement(
        &mut self,
        idx: usize,
        line: &LogicalLine,
        is_open: bool,
        is_close: bool,
        cx: &mut Cx,
    ) {
        let (stack, depth) = (&mut self.stack, &mut self.depth);
        // read_line's global brace count.
        if is_open {
            *depth += 1;
        } else if is_close {
            if *depth == 0 {
                cx.error(ErrClass::UnexpectedEob, Some(line.span), "Extra '}' found");
                // keepalived also reports "Unknown keyword '}'" at the top
                // level; one diagnostic per problem is enough.
                if stack.len() == 1 {
                    return;
                }
            } else {
                *depth -= 1;
            }
        }
        if let Some(Level::Skip { depth, .. }) = stack.last_mut() {
            if *depth == 0 {
                if is_open {
                    *depth = 1;
                    return;
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
                return;
            }
        }
        let level = stack.len() - 1;
        let Some(top) = stack.last_mut() else {
            return;
        };
        match top {
            Level::Values { r, need_bob } => {
                if *need_bob {
                    *need_bob = false;
                    if is_open {
                        return;
                    }
                    let block = r.block;
                    cx.info(
                        line.span,
                        format!("'{{' missing from beginning of block {block}"),
                    );
                }
                if is_close {
                    stack.pop();
                    return;
                }
                // The value block's entries go to the state of the keyword
                // frame just below it.
                let (values, rest) = stack.split_at_mut(level);
                let (Some(Level::Keywords { frame, .. }), Some(Level::Values { r, .. })) =
                    (values.last_mut(), rest.first())
                else {
                    return;
                };
                (r.entry)(frame.as_mut(), cx, line);
            }
            Level::Skip { .. } => {}
            Level::Keywords { frame, need_bob } => {
                if *need_bob {
                    *need_bob = false;
                    if is_open && level > 0 {
                        return;
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
                    return;
                }
                if is_close && level > 0 {
                    close_top(stack, cx);
                    return;
                }
                if level == 0 {
                    cx.top_marks.push((cx.diags.items.len(), idx));
                    cx.top_owners.push((owner_of(line.keyword()), line.span));
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

    /// Close every open block (keepalived runs the close handlers at the end
    /// of the input) and report unbalanced braces. Returns the top frame
    /// and every statement's shape.
    pub fn finish(mut self, cx: &mut Cx) -> (Box<dyn Frame>, Vec<u8>) {
        while self.stack.len() > 1 {
            close_top(&mut self.stack, cx);
        }
        if self.depth > 0 {
            let span = self
                .last_span
                .map(|l| Span::new(l.file, l.line, l.col.saturating_add(l.len), 1));
            cx.error(
                ErrClass::MissingEob,
                span,
                format!("There are {} missing '}}'s or extra '{{'s", self.depth),
            );
        }
        let top = match self.stack.pop() {
            Some(Level::Keywords { frame, .. }) => frame,
            // The bottom level is always the keyword frame pushed first.
            _ => unreachable_top(),
        };
        (top, self.shapes)
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
/// process. `shapes` are every statement's [`SHAPE_OPEN`]/[`SHAPE_CLOSE`]/
/// [`SHAPE_OTHER`], `marks` the top-level statements (`Cx::top_marks`) and
/// `owners` their [`owner_of`]. Returns, for each top-level statement (by
/// index into `marks`), `Some(owner)` of the block hiding it from its own
/// process.
pub fn hidden_from_owner(
    shapes: &[u8],
    marks: &[(usize, usize)],
    owners: &[(Option<u8>, Span)],
) -> Vec<Option<u8>> {
    // The `}` pairing each top-level block's `{`, in one pass over the
    // braces; only the `{` right after a known top-level keyword matters.
    let mut wanted: Vec<bool> = Vec::new();
    let mut pair_of: Vec<(usize, usize)> = Vec::new();
    for (m, &(_, idx)) in marks.iter().enumerate() {
        if owners.get(m).and_then(|o| o.0).is_some() && shapes.get(idx + 1) == Some(&SHAPE_OPEN) {
            if wanted.len() <= idx + 1 {
                wanted.resize(idx + 2, false);
            }
            wanted[idx + 1] = true;
        }
    }
    let mut open: Vec<usize> = Vec::new();
    for (i, &sh) in shapes.iter().enumerate() {
        if sh == SHAPE_OPEN {
            open.push(i);
        } else if sh == SHAPE_CLOSE {
            if let Some(o) = open.pop() {
                if wanted.get(o) == Some(&true) {
                    pair_of.push((o, i));
                }
            }
        }
    }
    pair_of.sort_unstable();
    let pair = |o: usize| {
        pair_of
            .binary_search_by_key(&o, |&(a, _)| a)
            .ok()
            .map(|k| pair_of[k].1)
    };
    let mut out = vec![None; marks.len()];
    // The block being skipped by the other processes: (last line, owner).
    let mut skipping: Option<(usize, u8)> = None;
    for (m, &(_, idx)) in marks.iter().enumerate() {
        let owner = owners.get(m).and_then(|o| o.0);
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
        if shapes.get(next) == Some(&SHAPE_OPEN) {
            let end = pair(next).unwrap_or(usize::MAX);
            skipping = Some((end, owner));
        }
    }
    out
}
