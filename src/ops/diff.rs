//! Unified line diffs (Myers' O(ND) algorithm) in the exact shape of GNU
//! `diff -u --label OLD --label NEW`.
//!
//! Pipeline:
//! 1. Split both texts into lines that keep their `\n`, so a missing final
//!    newline is an ordinary difference in the last line (`"a\nb"` vs
//!    `"a\nb\n"`). CR is an ordinary character; nothing is normalised.
//! 2. Intern lines as integers so comparisons are cheap.
//! 3. Mark lines that occur on one side only as changed and leave them out of
//!    the search. Such lines can never be matched, so this keeps the edit
//!    script minimal while making very different files cheap.
//! 4. Run the linear-space ("middle snake") divide-and-conquer variant of
//!    Myers' algorithm on the rest, after stripping the common prefix and
//!    suffix of every sub-problem. Memory is O(N + M); recursion is replaced
//!    by an explicit work list, so deep splits cannot overflow the stack.
//!
//! Fallback (same rule as GNU diff without `--minimal`): each middle-snake
//! search gives up after `max(4096, ~sqrt(N + M))` edit steps and splits the
//! sub-problem at the furthest-reaching point found so far instead of the
//! true middle snake. The script is still a correct diff, but may no longer
//! be minimal. This bounds the time spent on inputs with a huge edit
//! distance; below that distance (roughly 8k changed lines) results are
//! minimal.

use std::collections::HashMap;

/// Unified diff of `old` vs `new` with `context` lines of context, headers
/// `--- {old_label}` / `+++ {new_label}`.
///
/// The output matches GNU `diff -u` conventions: hunk headers
/// `@@ -l,s +l,s @@` (a count of 1 omits `,1`; an empty range is written as
/// the line before it with count 0), hunks are merged when the unchanged gap
/// between changes is at most `2 * context` lines, and a line without a
/// trailing newline is followed by `\ No newline at end of file`.
///
/// Returns `None` when `old == new`.
pub fn unified(
    old: &str,
    new: &str,
    old_label: &str,
    new_label: &str,
    context: usize,
) -> Option<String> {
    diff_text(old, new, old_label, new_label, context, None).map(|(text, _)| text)
}

/// Like [`unified`], with an optional override of the per-search cost budget;
/// also reports whether the edit script is guaranteed minimal.
fn diff_text(
    old: &str,
    new: &str,
    old_label: &str,
    new_label: &str,
    context: usize,
    budget: Option<usize>,
) -> Option<(String, bool)> {
    if old == new {
        return None;
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let marks = diff_lines(&a, &b, budget);
    let changes = collect_changes(&marks.del, &marks.ins);
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    let gap = context.saturating_mul(2);
    // GNU starts a new hunk only when more than 2*context unchanged lines
    // separate two changes; otherwise their context would overlap or touch.
    for group in changes.chunk_by(|p, q| q.old.saturating_sub(p.old_end()) <= gap) {
        render_hunk(&mut out, &a, &b, group, context);
    }
    Some((out, marks.minimal))
}

// ---------------------------------------------------------------------------
// Line comparison
// ---------------------------------------------------------------------------

/// Which lines of each side are outside the common subsequence.
struct Marks {
    /// `del[i]`: old line `i` is deleted.
    del: Vec<bool>,
    /// `ins[j]`: new line `j` is inserted.
    ins: Vec<bool>,
    /// False when the cost budget forced a possibly non-minimal script.
    minimal: bool,
}

/// Computes the edit script between two line sequences.
fn diff_lines(a: &[&str], b: &[&str], budget: Option<usize>) -> Marks {
    let (ia, ib, n_ids) = intern(a, b);
    let mut del = vec![false; a.len()];
    let mut ins = vec![false; b.len()];
    let (keep_a, sub_a) = keep_matchable(&ia, &ib, n_ids, &mut del);
    let (keep_b, sub_b) = keep_matchable(&ib, &ia, n_ids, &mut ins);
    let mut myers = Myers::new(&sub_a, &sub_b, budget);
    myers.run();
    // Map results on the reduced sequences back to original line numbers.
    for (&i, &d) in keep_a.iter().zip(&myers.del) {
        if let Some(flag) = del.get_mut(i) {
            *flag |= d;
        }
    }
    for (&j, &d) in keep_b.iter().zip(&myers.ins) {
        if let Some(flag) = ins.get_mut(j) {
            *flag |= d;
        }
    }
    Marks {
        del,
        ins,
        minimal: myers.minimal,
    }
}

/// Maps equal lines to equal ids; returns both id sequences and the id count.
fn intern<'s>(a: &[&'s str], b: &[&'s str]) -> (Vec<usize>, Vec<usize>, usize) {
    let mut ids: HashMap<&'s str, usize> = HashMap::new();
    let mut map = |lines: &[&'s str]| -> Vec<usize> {
        lines
            .iter()
            .map(|&line| {
                let next = ids.len();
                *ids.entry(line).or_insert(next)
            })
            .collect()
    };
    let ia = map(a);
    let ib = map(b);
    (ia, ib, ids.len())
}

/// Marks lines of `own` that never occur in `other` as changed and returns
/// the remaining lines as (original indices, ids).
fn keep_matchable(
    own: &[usize],
    other: &[usize],
    n_ids: usize,
    changed: &mut [bool],
) -> (Vec<usize>, Vec<usize>) {
    let mut present = vec![false; n_ids];
    for &id in other {
        if let Some(p) = present.get_mut(id) {
            *p = true;
        }
    }
    let mut keep = Vec::with_capacity(own.len());
    let mut ids = Vec::with_capacity(own.len());
    for ((i, &id), flag) in own.iter().enumerate().zip(changed.iter_mut()) {
        if present.get(id).copied().unwrap_or(false) {
            keep.push(i);
            ids.push(id);
        } else {
            *flag = true;
        }
    }
    (keep, ids)
}

// ---------------------------------------------------------------------------
// Myers' algorithm, linear-space variant (after GNU diffseq.h)
// ---------------------------------------------------------------------------

/// A sub-problem: old lines `x0..x1` against new lines `y0..y1`.
#[derive(Clone, Copy)]
struct Rect {
    x0: isize,
    x1: isize,
    y0: isize,
    y1: isize,
}

/// Active diagonal ranges of the forward and backward searches.
#[derive(Clone, Copy)]
struct Window {
    fmin: isize,
    fmax: isize,
    bmin: isize,
    bmax: isize,
}

/// Furthest x reached per diagonal `k = x - y`, stored at `k + off`.
///
/// Reads outside the vector return `fill`, a value that loses every
/// comparison, so a logic slip degrades the diff instead of panicking.
struct Diags {
    v: Vec<isize>,
    off: isize,
    fill: isize,
}

impl Diags {
    fn new(len: usize, off: isize, fill: isize) -> Self {
        Diags {
            v: vec![fill; len],
            off,
            fill,
        }
    }

    fn get(&self, k: isize) -> isize {
        usize::try_from(k + self.off)
            .ok()
            .and_then(|i| self.v.get(i))
            .copied()
            .unwrap_or(self.fill)
    }

    fn set(&mut self, k: isize, x: isize) {
        if let Some(slot) = usize::try_from(k + self.off)
            .ok()
            .and_then(|i| self.v.get_mut(i))
        {
            *slot = x;
        }
    }
}

/// State of one diff run over two id sequences.
struct Myers<'a> {
    a: &'a [usize],
    b: &'a [usize],
    fd: Diags,
    bd: Diags,
    /// Edit steps per middle-snake search before the heuristic kicks in.
    too_expensive: isize,
    del: Vec<bool>,
    ins: Vec<bool>,
    minimal: bool,
}

/// GNU's budget: about sqrt(N + M), but never below 4096.
fn default_budget(diags: usize) -> usize {
    let mut budget = 1usize;
    let mut rest = diags;
    while rest != 0 {
        rest >>= 2;
        budget <<= 1;
    }
    budget.max(4096)
}

impl<'a> Myers<'a> {
    fn new(a: &'a [usize], b: &'a [usize], budget: Option<usize>) -> Self {
        // Diagonals run from -(M+1) to N+1 including the sentinels.
        let len = a.len() + b.len() + 3;
        let off = b.len() as isize + 1;
        let budget = budget.unwrap_or_else(|| default_budget(len)).max(1);
        Myers {
            a,
            b,
            fd: Diags::new(len, off, -1),
            // Half of MAX: larger than any x, yet `x - k` cannot overflow.
            bd: Diags::new(len, off, isize::MAX / 2),
            too_expensive: isize::try_from(budget).unwrap_or(isize::MAX),
            del: vec![false; a.len()],
            ins: vec![false; b.len()],
            minimal: true,
        }
    }

    /// Compares the whole sequences, filling `del` and `ins`.
    fn run(&mut self) {
        let mut todo = vec![Rect {
            x0: 0,
            x1: self.a.len() as isize,
            y0: 0,
            y1: self.b.len() as isize,
        }];
        while let Some(rect) = todo.pop() {
            let r = self.strip(rect);
            if r.x0 == r.x1 {
                mark(&mut self.ins, r.y0, r.y1);
            } else if r.y0 == r.y1 {
                mark(&mut self.del, r.x0, r.x1);
            } else {
                let (xm, ym) = self.split(r);
                if splits_strictly(r, xm, ym) {
                    todo.push(Rect {
                        x1: xm,
                        y1: ym,
                        ..r
                    });
                    todo.push(Rect {
                        x0: xm,
                        y0: ym,
                        ..r
                    });
                } else {
                    // Cannot happen for a correct split; never loop on it.
                    self.minimal = false;
                    mark(&mut self.del, r.x0, r.x1);
                    mark(&mut self.ins, r.y0, r.y1);
                }
            }
        }
    }

    /// Equality of old line `x` and new line `y`; false when out of range.
    fn eq(&self, x: isize, y: isize) -> bool {
        let at = |v: &[usize], i: isize| usize::try_from(i).ok().and_then(|i| v.get(i).copied());
        match (at(self.a, x), at(self.b, y)) {
            (Some(p), Some(q)) => p == q,
            _ => false,
        }
    }

    /// Drops the common prefix and suffix; the middle-snake search relies on
    /// neither corner starting with a snake.
    fn strip(&self, mut r: Rect) -> Rect {
        while r.x0 < r.x1 && r.y0 < r.y1 && self.eq(r.x0, r.y0) {
            r.x0 += 1;
            r.y0 += 1;
        }
        while r.x0 < r.x1 && r.y0 < r.y1 && self.eq(r.x1 - 1, r.y1 - 1) {
            r.x1 -= 1;
            r.y1 -= 1;
        }
        r
    }

    /// Finds a point on an optimal path roughly halfway through `r` (the end
    /// of a middle snake), or a heuristic point once the budget is spent.
    fn split(&mut self, r: Rect) -> (isize, isize) {
        let (dmin, dmax) = (r.x0 - r.y1, r.x1 - r.y0);
        let (fmid, bmid) = (r.x0 - r.y0, r.x1 - r.y1);
        // The searches can meet while moving forward only if the end
        // diagonal has odd parity relative to the start one, and vice versa.
        let odd = (fmid - bmid) & 1 != 0;
        let mut w = Window {
            fmin: fmid,
            fmax: fmid,
            bmin: bmid,
            bmax: bmid,
        };
        self.fd.set(fmid, r.x0);
        self.bd.set(bmid, r.x1);
        let mut cost = 1;
        loop {
            // Widen by one diagonal per step, but never outside the box;
            // when blocked, shrink by one to keep the parity alternating.
            (w.fmin, w.fmax) = self.widen_fwd(w.fmin, w.fmax, dmin, dmax);
            if let Some(hit) = self.step_fwd(r, w, odd) {
                return hit;
            }
            (w.bmin, w.bmax) = self.widen_bwd(w.bmin, w.bmax, dmin, dmax);
            if let Some(hit) = self.step_bwd(r, w, odd) {
                return hit;
            }
            if cost >= self.too_expensive {
                self.minimal = false;
                return self.best_guess(r, w);
            }
            cost += 1;
        }
    }

    fn widen_fwd(&mut self, lo: isize, hi: isize, dmin: isize, dmax: isize) -> (isize, isize) {
        let lo = if lo > dmin { lo - 1 } else { lo + 1 };
        let hi = if hi < dmax { hi + 1 } else { hi - 1 };
        // Sentinels so the new outermost diagonals read "unreached".
        self.fd.set(lo - 1, -1);
        self.fd.set(hi + 1, -1);
        (lo, hi)
    }

    fn widen_bwd(&mut self, lo: isize, hi: isize, dmin: isize, dmax: isize) -> (isize, isize) {
        let lo = if lo > dmin { lo - 1 } else { lo + 1 };
        let hi = if hi < dmax { hi + 1 } else { hi - 1 };
        let fill = self.bd.fill;
        self.bd.set(lo - 1, fill);
        self.bd.set(hi + 1, fill);
        (lo, hi)
    }

    /// One forward edit step on every active diagonal, then follow snakes.
    fn step_fwd(&mut self, r: Rect, w: Window, odd: bool) -> Option<(isize, isize)> {
        for d in (w.fmin..=w.fmax).rev().step_by(2) {
            let (lo, hi) = (self.fd.get(d - 1), self.fd.get(d + 1));
            let mut x = if lo < hi { hi } else { lo + 1 };
            while x < r.x1 && x - d < r.y1 && self.eq(x, x - d) {
                x += 1;
            }
            self.fd.set(d, x);
            if odd && w.bmin <= d && d <= w.bmax && self.bd.get(d) <= x {
                return Some((x, x - d));
            }
        }
        None
    }

    /// One backward edit step on every active diagonal, then follow snakes.
    fn step_bwd(&mut self, r: Rect, w: Window, odd: bool) -> Option<(isize, isize)> {
        for d in (w.bmin..=w.bmax).rev().step_by(2) {
            let (lo, hi) = (self.bd.get(d - 1), self.bd.get(d + 1));
            let mut x = if lo < hi { lo } else { hi - 1 };
            while r.x0 < x && r.y0 < x - d && self.eq(x - 1, x - d - 1) {
                x -= 1;
            }
            self.bd.set(d, x);
            if !odd && w.fmin <= d && d <= w.fmax && x <= self.fd.get(d) {
                return Some((x, x - d));
            }
        }
        None
    }

    /// Budget exhausted: pick whichever search got further (by x + y).
    fn best_guess(&self, r: Rect, w: Window) -> (isize, isize) {
        let (mut fxy, mut fx) = (-1, r.x0);
        for d in (w.fmin..=w.fmax).rev().step_by(2) {
            let x = self.fd.get(d).min(r.x1);
            let (x, y) = if x - d > r.y1 {
                (r.y1 + d, r.y1)
            } else {
                (x, x - d)
            };
            if fxy < x + y {
                (fxy, fx) = (x + y, x);
            }
        }
        let (mut bxy, mut bx) = (isize::MAX, r.x1);
        for d in (w.bmin..=w.bmax).rev().step_by(2) {
            let x = self.bd.get(d).max(r.x0);
            let (x, y) = if x - d < r.y0 {
                (r.y0 + d, r.y0)
            } else {
                (x, x - d)
            };
            if x + y < bxy {
                (bxy, bx) = (x + y, x);
            }
        }
        if (r.x1 + r.y1) - bxy < fxy - (r.x0 + r.y0) {
            (fx, fxy - fx)
        } else {
            (bx, bxy - bx)
        }
    }
}

/// True when (xm, ym) lies in `r` and both halves are strictly smaller, which
/// guarantees the work list terminates.
fn splits_strictly(r: Rect, xm: isize, ym: isize) -> bool {
    (r.x0..=r.x1).contains(&xm)
        && (r.y0..=r.y1).contains(&ym)
        && r.x0 + r.y0 < xm + ym
        && xm + ym < r.x1 + r.y1
}

/// Sets `flags[lo..hi]` (clamped to the slice).
fn mark(flags: &mut [bool], lo: isize, hi: isize) {
    let lo = usize::try_from(lo).unwrap_or(0).min(flags.len());
    let hi = usize::try_from(hi).unwrap_or(0).clamp(lo, flags.len());
    if let Some(part) = flags.get_mut(lo..hi) {
        part.fill(true);
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// A maximal run of changes: `del` old lines at `old` replaced by `ins` new
/// lines at `new` (0-based).
struct Change {
    old: usize,
    del: usize,
    new: usize,
    ins: usize,
}

impl Change {
    fn old_end(&self) -> usize {
        self.old + self.del
    }
}

/// Walks both mark vectors in step, grouping adjacent changes (as GNU's
/// `build_script` does).
fn collect_changes(del: &[bool], ins: &[bool]) -> Vec<Change> {
    let flag = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < del.len() || j < ins.len() {
        let (i0, j0) = (i, j);
        while flag(del, i) {
            i += 1;
        }
        while flag(ins, j) {
            j += 1;
        }
        if i > i0 || j > j0 {
            out.push(Change {
                old: i0,
                del: i - i0,
                new: j0,
                ins: j - j0,
            });
        } else {
            // An unchanged line common to both sides.
            i += 1;
            j += 1;
        }
    }
    out
}

/// Appends one hunk covering `group` with its surrounding context.
fn render_hunk(out: &mut String, a: &[&str], b: &[&str], group: &[Change], context: usize) {
    let (Some(first), Some(last)) = (group.first(), group.last()) else {
        return;
    };
    // Leading and trailing unchanged runs have equal length on both sides,
    // so clamping each side independently yields the same context.
    let (x0, y0) = (
        first.old.saturating_sub(context),
        first.new.saturating_sub(context),
    );
    let x1 = last.old_end().saturating_add(context).min(a.len());
    let y1 = (last.new + last.ins).saturating_add(context).min(b.len());
    out.push_str(&format!(
        "@@ -{} +{} @@\n",
        range(x0, x1.saturating_sub(x0)),
        range(y0, y1.saturating_sub(y0))
    ));
    let mut x = x0;
    for c in group {
        emit(out, ' ', a.get(x..c.old));
        emit(out, '-', a.get(c.old..c.old_end()));
        emit(out, '+', b.get(c.new..c.new + c.ins));
        x = c.old_end();
    }
    emit(out, ' ', a.get(x..x1));
}

/// GNU range syntax: `l` for one line, `l,s` otherwise, and for an empty
/// range the line before it (`start0` in 1-based terms), which is what
/// `patch` expects, e.g. `0,0` for an empty file.
fn range(start0: usize, count: usize) -> String {
    match count {
        0 => format!("{start0},0"),
        1 => format!("{}", start0 + 1),
        _ => format!("{},{}", start0 + 1, count),
    }
}

/// Appends lines with a one-character prefix, flagging a missing newline.
fn emit(out: &mut String, prefix: char, lines: Option<&[&str]>) {
    for line in lines.unwrap_or(&[]) {
        out.push(prefix);
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DIFF: &str = "/usr/bin/diff";
    const PATCH: &str = "/usr/bin/patch";

    /// Tiny deterministic PRNG (xorshift64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Temp files removed on drop, named uniquely per process and call.
    struct Scratch(Vec<PathBuf>);

    impl Scratch {
        fn file(&mut self, contents: &[u8]) -> PathBuf {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("scout-diff-test-{}-{n}", std::process::id());
            let path = std::env::temp_dir().join(name);
            fs::write(&path, contents).expect("write temp file");
            self.0.push(path.clone());
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = fs::remove_file(p);
            }
        }
    }

    /// GNU `diff -u` output for the pair.
    fn gnu_diff(old: &str, new: &str, context: usize) -> String {
        let mut s = Scratch(Vec::new());
        let (o, n) = (s.file(old.as_bytes()), s.file(new.as_bytes()));
        let out = Command::new(DIFF)
            .arg(format!("-U{context}"))
            .args(["--label", "A", "--label", "B"])
            .args([&o, &n])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {DIFF} (GNU diffutils needed): {e}"));
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{DIFF} failed: {out:?}"
        );
        String::from_utf8(out.stdout).expect("utf-8 diff output")
    }

    /// Applies `diff` to `old` with GNU patch (no fuzz) and returns the result.
    fn apply(old: &str, diff: &str) -> String {
        let mut s = Scratch(Vec::new());
        let (o, d) = (s.file(old.as_bytes()), s.file(diff.as_bytes()));
        let out = s.file(b"");
        let rej = s.file(b"");
        let status = Command::new(PATCH)
            .args(["-s", "-F0", "--no-backup-if-mismatch", "-o"])
            .arg(&out)
            .arg("-r")
            .arg(&rej)
            .args([&o, &d])
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {PATCH} (GNU patch needed): {e}"));
        assert!(status.success(), "patch failed on:\n{diff}");
        fs::read_to_string(&out).unwrap_or_default()
    }

    /// Number of `-` and `+` lines, headers excluded.
    fn edits(diff: &str) -> usize {
        diff.lines()
            .skip(2)
            .filter(|l| l.starts_with('-') || l.starts_with('+'))
            .count()
    }

    /// Minimal edit count by textbook LCS dynamic programming.
    fn lcs_edits(old: &str, new: &str) -> usize {
        let a: Vec<&str> = old.split_inclusive('\n').collect();
        let b: Vec<&str> = new.split_inclusive('\n').collect();
        let mut row = vec![0usize; b.len() + 1];
        for x in &a {
            let mut diag = 0;
            for (j, y) in b.iter().enumerate() {
                let up = row[j + 1];
                row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
                diag = up;
            }
        }
        a.len() + b.len() - 2 * row[b.len()]
    }

    fn u(old: &str, new: &str, context: usize) -> String {
        unified(old, new, "A", "B", context).expect("texts differ")
    }

    #[test]
    fn identical_inputs_give_none() {
        assert_eq!(unified("", "", "A", "B", 3), None);
        assert_eq!(unified("a\nb", "a\nb", "A", "B", 3), None);
    }

    #[test]
    fn empty_old_file() {
        assert_eq!(
            u("", "a\nb\n", 3),
            "--- A\n+++ B\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }

    #[test]
    fn empty_new_file() {
        assert_eq!(u("a\n", "", 3), "--- A\n+++ B\n@@ -1 +0,0 @@\n-a\n");
    }

    #[test]
    fn missing_final_newline_is_a_change() {
        let want = "--- A\n+++ B\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n";
        assert_eq!(u("a\nb", "a\nb\n", 3), want);
    }

    #[test]
    fn shared_unterminated_context_line() {
        let want = "--- A\n+++ B\n@@ -1,2 +1,2 @@\n-a\n+x\n b\n\\ No newline at end of file\n";
        assert_eq!(u("a\nb", "x\nb", 3), want);
    }

    #[test]
    fn crlf_is_ordinary() {
        let want = "--- A\n+++ B\n@@ -1,2 +1,2 @@\n-a\r\n+a\n b\r\n";
        assert_eq!(u("a\r\nb\r\n", "a\nb\r\n", 3), want);
    }

    #[test]
    fn empty_range_names_line_before() {
        let want = "--- A\n+++ B\n@@ -2,0 +3 @@\n+x\n";
        assert_eq!(u("1\n2\n3\n", "1\n2\nx\n3\n", 0), want);
    }

    #[test]
    fn hunks_merge_within_twice_context() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        // Gap of 6 unchanged lines (3..=8) with context 3: one hunk.
        let near = old.replacen("2\n", "x\n", 1).replacen("9\n", "y\n", 1);
        assert_eq!(u(&old, &near, 3).matches("@@ -").count(), 1);
        // Gap of 7 unchanged lines: two hunks.
        let far = old.replacen("2\n", "x\n", 1).replacen("10\n", "y\n", 1);
        assert_eq!(u(&old, &far, 3).matches("@@ -").count(), 2);
    }

    #[test]
    fn matches_gnu_on_unambiguous_cases() {
        let old: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let cases = [
            ("", "x"),
            ("x", ""),
            ("a\nb\nc\n", "a\nc\n"),
            (old.as_str(), "line 1\n"),
            (
                &old,
                &old.replace("line 5\n", "five\n").replace("line 9\n", ""),
            ),
            (
                &old,
                &old.replace("line 5\n", "").replace("line 13\n", "13\n"),
            ),
            (&old, &old.replace("line 30\n", "line 30")),
        ];
        for (o, n) in cases {
            for ctx in [0, 1, 3, 5] {
                assert_eq!(u(o, n, ctx), gnu_diff(o, n, ctx), "{o:?} -> {n:?} -U{ctx}");
            }
        }
    }

    #[test]
    fn edge_cases_patch_back() {
        let cases = [
            ("", "x"),
            ("x", ""),
            ("a\n", ""),
            ("", "a\n"),
            ("a", "a\n"),
            ("a\n", "a"),
            ("a\r\n", "a\n"),
            ("\n\n", "\n"),
            ("a\nb", "x\nb"),
        ];
        for (o, n) in cases {
            for ctx in [0, 3] {
                assert_eq!(apply(o, &u(o, n, ctx)), n, "{o:?} -> {n:?} -U{ctx}");
                assert_eq!(u(o, n, ctx), gnu_diff(o, n, ctx), "{o:?} -> {n:?} -U{ctx}");
            }
        }
    }

    const ALPHABET: [&str; 6] = ["a", "b", "c", "d", "a\r", ""];

    fn random_text(rng: &mut Rng, max_lines: usize) -> String {
        let lines = rng.below(max_lines + 1);
        let mut text: String = (0..lines)
            .map(|_| format!("{}\n", ALPHABET[rng.below(ALPHABET.len())]))
            .collect();
        if !text.is_empty() && rng.below(4) == 0 {
            text.pop();
            text.push('z'); // avoid an empty unterminated line
        }
        text
    }

    /// Derives a related text by random line edits, or an unrelated one.
    fn mutate(rng: &mut Rng, old: &str) -> String {
        if rng.below(8) == 0 {
            return random_text(rng, 30);
        }
        let mut lines: Vec<String> = old.split_inclusive('\n').map(String::from).collect();
        for _ in 0..rng.below(8) {
            let at = rng.below(lines.len() + 1);
            let line = format!("{}\n", ALPHABET[rng.below(ALPHABET.len())]);
            match rng.below(3) {
                0 if at < lines.len() => drop(lines.remove(at)),
                1 if at < lines.len() => lines[at] = line,
                _ => lines.insert(at.min(lines.len()), line),
            }
        }
        let mut text = lines.concat();
        if rng.below(6) == 0 {
            text.push('q');
        }
        text
    }

    #[test]
    fn random_pairs_patch_back_and_are_minimal() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..400 {
            let old = random_text(&mut rng, 30);
            let new = mutate(&mut rng, &old);
            let context = rng.below(5);
            let Some((diff, minimal)) = diff_text(&old, &new, "A", "B", context, None) else {
                assert_eq!(old, new);
                continue;
            };
            assert_eq!(
                apply(&old, &diff),
                new,
                "case {case}: {old:?} -> {new:?}\n{diff}"
            );
            assert!(minimal, "case {case}: fallback on a tiny input");
            let gnu = gnu_diff(&old, &new, context);
            assert_eq!(
                edits(&diff),
                edits(&gnu),
                "case {case}:\nours\n{diff}\ngnu\n{gnu}"
            );
            assert_eq!(edits(&diff), lcs_edits(&old, &new), "case {case}");
        }
    }

    #[test]
    fn tiny_budget_fallback_still_patches() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for case in 0..150 {
            let old = random_text(&mut rng, 40);
            let new = mutate(&mut rng, &old);
            let Some((diff, _)) = diff_text(&old, &new, "A", "B", 2, Some(1)) else {
                continue;
            };
            assert_eq!(
                apply(&old, &diff),
                new,
                "case {case}: {old:?} -> {new:?}\n{diff}"
            );
            assert!(edits(&diff) >= lcs_edits(&old, &new));
        }
    }

    #[test]
    fn large_input_with_scattered_changes() {
        let mut rng = Rng(42);
        // Lines repeat every 500 so many lines match in several places.
        let old_lines: Vec<String> = (0..20_000).map(|i| format!("line {}\n", i % 500)).collect();
        let mut new_lines = old_lines.clone();
        for k in 0..2_000 {
            let at = rng.below(new_lines.len());
            match k % 3 {
                0 => new_lines[at] = format!("changed {k}\n"),
                1 => drop(new_lines.remove(at)),
                _ => new_lines.insert(at, format!("line {}\n", rng.below(500))),
            }
        }
        let (old, new) = (old_lines.concat(), new_lines.concat());
        let (diff, minimal) = diff_text(&old, &new, "A", "B", 3, None).expect("texts differ");
        assert!(minimal);
        assert_eq!(apply(&old, &diff), new);
        assert_eq!(edits(&diff), edits(&gnu_diff(&old, &new, 3)));
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_unified() {
        let d = crate::ops::diff::unified("a\nb\n", "a\nc\n", "web1:/f", "web2:/f", 3).unwrap();
        assert_eq!(d, "--- web1:/f\n+++ web2:/f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n");
        assert!(crate::ops::diff::unified("same\n", "same\n", "l", "r", 3).is_none());
    }
}
