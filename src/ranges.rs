//! Host names in ranges, the way `clush` and `pdsh` write them: [`fold_hosts`] writes a set of
//! names as `prefix[ranges]` where names end in a number (zero padding kept: `web01`…`web40`
//! is `web[01-40]`, `n1`…`n10` is `n[1-10]`), and [`expand_ranges`] reads that notation back
//! (bounded: a range can never make more names than the caller allows). [`natural_cmp`] orders
//! names so that `web2` comes before `web10`. Pure string functions: the inventory's host
//! patterns and the folding of answers both build on them.
//!
//! ```
//! use scout_mcp::{expand_ranges, fold_hosts};
//! let names = ["web01", "web02", "web03", "web07", "db1", "web10"];
//! assert_eq!(fold_hosts(names), "db1,web[01-03,07,10]");
//! assert_eq!(expand_ranges("web[09-11]", 100).unwrap(), ["web09", "web10", "web11"]);
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Most digits of a number that folds (larger ones stay literal): fits a `u64`.
const MAX_DIGITS: usize = 18;

/// Orders names as people do: runs of digits compare by value (`web2` < `web10`), then by
/// length (`web1` < `web01`), the rest byte by byte.
///
/// ```
/// use std::cmp::Ordering;
/// assert_eq!(scout_mcp::natural_cmp("web2", "web10"), Ordering::Less);
/// ```
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (x, y) = (&a[si..i], &b[sj..j]);
            let strip = |d: &[u8]| -> usize { d.iter().take_while(|&&c| c == b'0').count() };
            let (xs, ys) = (
                &x[strip(x).min(x.len() - 1)..],
                &y[strip(y).min(y.len() - 1)..],
            );
            let by_value = xs.len().cmp(&ys.len()).then_with(|| xs.cmp(ys));
            let order = by_value.then_with(|| x.len().cmp(&y.len()));
            if order != Ordering::Equal {
                return order;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// A name split into its prefix and trailing number, or `None` when it does not fold (no
/// trailing digits, too many of them, or a character of the range notation in the name).
fn split_number(name: &str) -> Option<(&str, &str)> {
    if name.contains(['[', ']', ',']) {
        return None;
    }
    let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > MAX_DIGITS {
        return None;
    }
    Some(name.split_at(name.len() - digits))
}

/// Writes `names` compactly: names that differ only in a trailing number become one
/// `prefix[a-b,c]` (zero padding kept: `web[01-40]`; `web01` and `web1` are different names and
/// stay apart), other names as they are; duplicates once; in natural order, comma-separated.
///
/// ```
/// use scout_mcp::fold_hosts;
/// assert_eq!(fold_hosts(["n1", "n2", "n3", "n10", "n9"]), "n[1-3,9-10]");
/// assert_eq!(fold_hosts(["web01", "web02", "web1"]), "web1,web[01-02]");
/// assert_eq!(fold_hosts(["db", "db"]), "db");
/// ```
pub fn fold_hosts<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    // Per prefix: numbers written without padding, and zero-padded numbers by width.
    #[derive(Default)]
    struct Numbers {
        natural: BTreeSet<u64>,
        padded: BTreeMap<usize, BTreeSet<u64>>,
    }
    let mut literals: BTreeSet<&str> = BTreeSet::new();
    let mut numbered: BTreeMap<&str, Numbers> = BTreeMap::new();
    for name in names {
        match split_number(name) {
            Some((prefix, digits)) => {
                let Ok(n) = digits.parse::<u64>() else {
                    literals.insert(name);
                    continue;
                };
                let entry = numbered.entry(prefix).or_default();
                if digits.len() > 1 && digits.starts_with('0') {
                    entry.padded.entry(digits.len()).or_default().insert(n);
                } else {
                    entry.natural.insert(n);
                }
            }
            None => {
                literals.insert(name);
            }
        }
    }
    // (the first name of the piece, for ordering; the piece as text)
    let mut pieces: Vec<(String, String)> = literals
        .into_iter()
        .map(|l| (l.to_string(), l.to_string()))
        .collect();
    for (prefix, mut numbers) in numbered {
        // A number written without padding whose length is a padded width is the same text as
        // that padded number: `web10` belongs with `web01`…`web09`.
        for (width, set) in numbers.padded.iter_mut() {
            let same: Vec<u64> = numbers
                .natural
                .iter()
                .copied()
                .filter(|n| n.to_string().len() == *width)
                .collect();
            for n in same {
                numbers.natural.remove(&n);
                set.insert(n);
            }
        }
        if !numbers.natural.is_empty() {
            pieces.push(render(prefix, 0, &numbers.natural));
        }
        for (width, set) in &numbers.padded {
            pieces.push(render(prefix, *width, set));
        }
    }
    pieces.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    let texts: Vec<String> = pieces.into_iter().map(|(_, text)| text).collect();
    texts.join(",")
}

/// One prefix with its numbers of one width (0: no padding): `(first name, text)`.
fn render(prefix: &str, width: usize, numbers: &BTreeSet<u64>) -> (String, String) {
    let num = |n: u64| format!("{n:0width$}");
    let first = numbers.first().copied().unwrap_or(0);
    if numbers.len() == 1 {
        let name = format!("{prefix}{}", num(first));
        return (name.clone(), name);
    }
    let mut ranges: Vec<String> = Vec::new();
    let mut iter = numbers.iter().copied();
    let mut start = first;
    let mut end = first;
    let _ = iter.next();
    let close = |start: u64, end: u64, ranges: &mut Vec<String>| {
        if start == end {
            ranges.push(num(start));
        } else {
            ranges.push(format!("{}-{}", num(start), num(end)));
        }
    };
    for n in iter {
        if end.checked_add(1) == Some(n) {
            end = n;
        } else {
            close(start, end, &mut ranges);
            start = n;
            end = n;
        }
    }
    close(start, end, &mut ranges);
    (
        format!("{prefix}{}", num(first)),
        format!("{prefix}[{}]", ranges.join(",")),
    )
}

/// Reads the range notation [`fold_hosts`] writes: each `[…]` holds numbers and ranges
/// (`[01-40,42]`; a leading zero sets the width), several brackets multiply
/// (`r[1-2]n[1-3]` is six names). Refused: unbalanced or empty brackets, a range that runs
/// backwards, and anything that would make more than `limit` names (counted before any is
/// made). A text without brackets is itself.
///
/// ```
/// use scout_mcp::expand_ranges;
/// assert_eq!(expand_ranges("n[1-2,5]", 10).unwrap(), ["n1", "n2", "n5"]);
/// assert!(expand_ranges("n[1-100000000]", 1000).is_err());
/// ```
pub fn expand_ranges(text: &str, limit: usize) -> Result<Vec<String>, String> {
    if split_list(text).len() > 1 {
        return Err(format!(
            "'{text}': a ',' outside brackets separates names: expand each one"
        ));
    }
    // Literal parts and bracket contents, alternating: lit [set] lit [set] lit …
    let mut parts: Vec<&str> = Vec::new();
    let mut sets: Vec<Vec<(u64, u64, usize)>> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let literal = &rest[..open];
        if literal.contains(']') {
            return Err(format!("'{text}': a ']' without its '['"));
        }
        let Some(close) = rest[open..].find(']') else {
            return Err(format!("'{text}': a '[' without its ']'"));
        };
        let inside = &rest[open + 1..open + close];
        if inside.contains('[') {
            return Err(format!("'{text}': brackets cannot nest"));
        }
        parts.push(literal);
        sets.push(parse_set(text, inside)?);
        rest = &rest[open + close + 1..];
    }
    if rest.contains(']') {
        return Err(format!("'{text}': a ']' without its '['"));
    }
    parts.push(rest);
    let mut count: u64 = 1;
    for set in &sets {
        let size = set
            .iter()
            .try_fold(0u64, |acc, (a, b, _)| acc.checked_add(b - a + 1));
        count = size
            .and_then(|s| count.checked_mul(s))
            .filter(|c| *c <= limit as u64)
            .ok_or_else(|| format!("'{text}' names more than {limit} hosts"))?;
    }
    let mut names = vec![parts[0].to_string()];
    for (set, literal) in sets.iter().zip(&parts[1..]) {
        let mut next = Vec::with_capacity(count as usize);
        for name in &names {
            for &(a, b, width) in set {
                for n in a..=b {
                    next.push(format!("{name}{n:0width$}{literal}"));
                }
            }
        }
        names = next;
    }
    Ok(names)
}

/// Splits a list of names and patterns at the commas outside brackets (`a[1,2],b` is
/// `a[1,2]` and `b`); empty items are kept, for the caller to refuse.
pub fn split_list(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

/// The inside of one bracket: `(first, last, width)` for each comma-separated item.
fn parse_set(text: &str, inside: &str) -> Result<Vec<(u64, u64, usize)>, String> {
    let number = |s: &str| -> Result<(u64, usize), String> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_DIGITS || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "'{text}': '{s}' in brackets is not a number (write e.g. web[01-40,42])"
            ));
        }
        let n = s
            .parse::<u64>()
            .map_err(|e| format!("'{text}': '{s}': {e}"))?;
        let width = if s.len() > 1 && s.starts_with('0') {
            s.len()
        } else {
            0
        };
        Ok((n, width))
    };
    if inside.trim().is_empty() {
        return Err(format!("'{text}': empty brackets"));
    }
    inside
        .split(',')
        .map(|item| match item.split_once('-') {
            None => number(item).map(|(n, w)| (n, n, w)),
            Some((a, b)) => {
                let ((a, width), (b, _)) = (number(a)?, number(b)?);
                if b < a {
                    return Err(format!("'{text}': the range {a}-{b} runs backwards"));
                }
                Ok((a, b, width))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_kept_and_never_mixed() {
        let names: Vec<String> = (1..=40).map(|i| format!("web{i:02}")).collect();
        let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
        all.push("web42");
        assert_eq!(fold_hosts(all.iter().copied()), "web[01-40,42]");
        // web1 and web01 are different names: two pieces, never one range.
        assert_eq!(fold_hosts(["web1", "web01", "web2"]), "web[1-2],web01");
        assert_eq!(
            fold_hosts(["n001", "n002", "n010", "n100"]),
            "n[001-002,010,100]"
        );
        // A natural number as wide as the padding is the same text: it joins the range.
        assert_eq!(fold_hosts(["n08", "n09", "n10", "n11"]), "n[08-11]");
        // Wider than the padding stays apart.
        assert_eq!(fold_hosts(["n08", "n09", "n100"]), "n[08-09],n100");
    }

    #[test]
    fn gaps_single_members_and_duplicates() {
        assert_eq!(fold_hosts(["a1", "a3", "a5"]), "a[1,3,5]");
        assert_eq!(fold_hosts(["a7"]), "a7");
        assert_eq!(fold_hosts(["a2", "a2", "a1"]), "a[1-2]");
        assert_eq!(fold_hosts(Vec::<&str>::new()), "");
        assert_eq!(fold_hosts(["0", "1", "2"]), "[0-2]");
    }

    #[test]
    fn non_numeric_names_and_mixed_prefixes() {
        assert_eq!(
            fold_hosts(["db", "web2", "web1", "cache", "db-1", "db-2", "web10"]),
            "cache,db,db-[1-2],web[1-2,10]"
        );
        // Only the trailing number folds; names with range characters are left alone.
        assert_eq!(fold_hosts(["r1n1", "r1n2", "r2n1"]), "r1n[1-2],r2n1");
        assert_eq!(fold_hosts(["a[1]", "a2"]), "a2,a[1]");
        assert_eq!(
            fold_hosts(["x.example.com", "y1.lan"]),
            "x.example.com,y1.lan"
        );
        // A number too long to fold stays literal.
        let long = format!("h{}", "9".repeat(30));
        assert_eq!(fold_hosts([long.as_str(), "h1"]), format!("h1,{long}"));
    }

    #[test]
    fn expansion_reads_back_what_folding_writes() {
        for text in [
            "web[01-40,42]",
            "n[1-3,9-10]",
            "r[1-2]n[01-03]",
            "x[007]",
            "plain",
        ] {
            let mut names = expand_ranges(text, 1000).unwrap();
            let refolded = fold_hosts(names.iter().map(String::as_str));
            let mut back: Vec<String> = Vec::new();
            for piece in split_list(&refolded) {
                back.extend(expand_ranges(piece, 1000).unwrap());
            }
            names.sort();
            back.sort();
            assert_eq!(names, back, "{text} → {refolded}");
        }
        assert_eq!(expand_ranges("r[1-2]n[1-2]", 10).unwrap().len(), 4);
        assert_eq!(split_list("a[1,2],b,,c"), ["a[1,2]", "b", "", "c"]);
    }

    #[test]
    fn expansion_refuses_bad_and_huge_ranges_before_making_them() {
        for bad in [
            "a[", "a]", "a[]", "a[x]", "a[2-1]", "a[[1]]", "a[1-]", "a[-1]", "a[1]]", "a[1],b",
        ] {
            assert!(expand_ranges(bad, 100).is_err(), "{bad}");
        }
        let err = expand_ranges("a[1-1000]b[1-1000]", 1000).unwrap_err();
        assert!(err.contains("more than 1000"), "{err}");
        assert!(expand_ranges("a[0-18446744073709551615]", 1000).is_err());
        assert_eq!(expand_ranges("a[1-1000]", 1000).unwrap().len(), 1000);
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["web10", "web2", "web1", "db", "web01", "web"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["db", "web", "web1", "web01", "web2", "web10"]);
        assert_eq!(natural_cmp("a0", "a00"), Ordering::Less);
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
    }
}
