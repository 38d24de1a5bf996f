//! Folding a broadcast's answers the way `clush -b` and `dshbak -c` do: one group per distinct
//! answer, naming its hosts compactly (`web[01-40,42]`, written by `ranges.rs`). Usable from a
//! plain program as from the MCP tool:
//!
//! * [`fold`] groups the items of a [`Scout::broadcast`](crate::Scout::broadcast)
//!   whose answers are the same wherever they came from (the host's own name in an error
//!   message does not make it differ), failures and minority answers first; [`Folder`] does the
//!   same one item at a time, for answers that arrive over a long time (background jobs).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::error::Error;
use crate::ops::fs::View;
use crate::ranges::fold_hosts;
use crate::scout::{BroadcastItem, Outcome};

/// One distinct answer of a broadcast and the targets that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerGroup {
    /// Positions (in the broadcast's items) of the targets with this answer, ascending.
    pub members: Vec<usize>,
    /// Whether this answer is a success ([`BroadcastItem::succeeded`]).
    pub succeeded: bool,
}

/// Groups `items` by answer (`same_answer`), in the order to show them: failed answers
/// first, then the others from the rarest to the most common (what differs comes before what
/// most hosts say); ties in order of first appearance.
pub fn fold(items: &[BroadcastItem]) -> Vec<AnswerGroup> {
    let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut groups: Vec<AnswerGroup> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let bucket = buckets.entry(answer_hash(item)).or_default();
        match bucket
            .iter()
            .find(|&&g| same_answer(&items[groups[g].members[0]], item))
        {
            Some(&g) => groups[g].members.push(i),
            None => {
                bucket.push(groups.len());
                groups.push(AnswerGroup {
                    members: vec![i],
                    succeeded: item.succeeded(),
                });
            }
        }
    }
    let order = display_order(&groups);
    order.into_iter().map(|g| groups[g].clone()).collect()
}

/// Group numbers in the order to show them (see [`fold`]).
fn display_order(groups: &[AnswerGroup]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| {
        (
            groups[g].succeeded,
            groups[g].members.len(),
            groups[g].members[0],
        )
    });
    order
}

/// Folds the items of a broadcast one at a time, as they arrive: keeps one item per distinct
/// answer (to compare the next ones with), so its memory is that of the distinct answers.
#[derive(Debug, Default)]
pub struct Folder {
    representatives: Vec<BroadcastItem>,
    groups: Vec<AnswerGroup>,
    buckets: HashMap<u64, Vec<usize>>,
}

impl Folder {
    /// An empty folder.
    pub fn new() -> Folder {
        Folder::default()
    }

    /// Adds the item at position `index` of the broadcast; returns the number of its group
    /// (groups are numbered from 0 in order of first appearance) and whether it is new.
    pub fn add(&mut self, index: usize, item: &BroadcastItem) -> (usize, bool) {
        let bucket = self.buckets.entry(answer_hash(item)).or_default();
        if let Some(&g) = bucket
            .iter()
            .find(|&&g| same_answer(&self.representatives[g], item))
        {
            let members = &mut self.groups[g].members;
            let at = members.partition_point(|&m| m < index);
            members.insert(at, index);
            return (g, false);
        }
        let g = self.groups.len();
        bucket.push(g);
        self.representatives.push(item.clone());
        self.groups.push(AnswerGroup {
            members: vec![index],
            succeeded: item.succeeded(),
        });
        (g, true)
    }

    /// The groups by number (order of first appearance).
    pub fn groups(&self) -> &[AnswerGroup] {
        &self.groups
    }

    /// Group numbers in the order to show them: failures first, then rarest first.
    pub fn display_order(&self) -> Vec<usize> {
        display_order(&self.groups)
    }
}

/// Whether two items gave the same answer, wherever they came from: the same file content or
/// listing, the same command output and exit status, or the same error once the host's name
/// at its start is set aside. Paths do not count (the label names them).
pub fn same_answer(a: &BroadcastItem, b: &BroadcastItem) -> bool {
    match (&a.result, &b.result) {
        (Err(x), Err(y)) => error_text(x) == error_text(y),
        (Ok(Outcome::Command(x)), Ok(Outcome::Command(y))) => x == y,
        (Ok(Outcome::View(View::File(x))), Ok(Outcome::View(View::File(y)))) => {
            x.size == y.size
                && x.truncated == y.truncated
                && x.binary == y.binary
                && x.bytes == y.bytes
        }
        (Ok(Outcome::View(View::Directory(x))), Ok(Outcome::View(View::Directory(y)))) => {
            x.total == y.total && x.entries == y.entries
        }
        _ => false,
    }
}

fn answer_hash(item: &BroadcastItem) -> u64 {
    let mut h = DefaultHasher::new();
    match &item.result {
        Err(e) => (0u8, error_text(e)).hash(&mut h),
        Ok(Outcome::Command(o)) => {
            1u8.hash(&mut h);
            (&o.stdout, &o.stderr, o.stdout_total, o.stderr_total).hash(&mut h);
            (o.exit_code, &o.exit_signal, o.timed_out, o.cancelled).hash(&mut h);
        }
        Ok(Outcome::View(View::File(f))) => (2u8, f.size, f.truncated, &f.bytes).hash(&mut h),
        Ok(Outcome::View(View::Directory(l))) => {
            (3u8, l.total, l.entries.len()).hash(&mut h);
            for e in &l.entries {
                (&e.name, e.size, e.mode, e.mtime).hash(&mut h);
            }
        }
    }
    h.finish()
}

/// An error as text without the host's name at its start (`web3: cannot connect: …` →
/// `cannot connect: …`): what the same failure on several hosts has in common.
pub fn error_text(e: &Error) -> String {
    let text = e.to_string();
    let Some(host) = e
        .host()
        .filter(|_| e.kind() != crate::error::ErrorKind::UnknownHost)
    else {
        return text;
    };
    match text.strip_prefix(host).and_then(|t| t.strip_prefix(": ")) {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// The targets at `members` as `hosts:path`, hosts folded ([`fold_hosts`]) per path, paths in
/// order of first appearance, separated by `", "`.
pub fn label(items: &[BroadcastItem], members: &[usize]) -> String {
    by_path(items, members)
        .into_iter()
        .map(|(path, hosts)| format!("{hosts}:{path}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets at `members` grouped by path: `(path, folded hosts)`, paths in order of first
/// appearance.
pub fn by_path(items: &[BroadcastItem], members: &[usize]) -> Vec<(String, String)> {
    group_by_path(
        members
            .iter()
            .filter_map(|&m| items.get(m))
            .map(|item| (item.host(), item.path())),
    )
}

/// `host:path` targets as [`label`] writes them: hosts folded per path.
pub fn label_targets(targets: &[String]) -> String {
    group_by_path(targets.iter().map(|t| match t.split_once(':') {
        Some((h, p)) => (h.trim(), p.trim()),
        None => (t.as_str(), ""),
    }))
    .into_iter()
    .map(|(path, hosts)| format!("{hosts}:{path}"))
    .collect::<Vec<_>>()
    .join(", ")
}

fn group_by_path<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut paths: Vec<(&str, Vec<&str>)> = Vec::new();
    for (host, path) in pairs {
        match paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, hosts)) => hosts.push(host),
            None => paths.push((path, vec![host])),
        }
    }
    paths
        .into_iter()
        .map(|(path, hosts)| (path.to_string(), fold_hosts(hosts)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::exec::ExecOutput;

    fn command(target: &str, out: &str, code: i32) -> BroadcastItem {
        BroadcastItem {
            target: target.into(),
            result: Ok(Outcome::Command(ExecOutput {
                stdout: out.as_bytes().to_vec(),
                stdout_total: out.len() as u64,
                exit_code: Some(code),
                ..ExecOutput::default()
            })),
        }
    }

    #[test]
    fn failures_then_rare_answers_then_the_common_one() {
        let mut items: Vec<BroadcastItem> = (1..=6)
            .map(|i| command(&format!("h{i}:/"), "same\n", 0))
            .collect();
        items.push(command("h7:/", "other\n", 0));
        items.push(command("h8:/", "same\n", 1));
        items.push(BroadcastItem {
            target: "h9:/".into(),
            result: Err(Error::connect("h9", "refused")),
        });
        items.push(BroadcastItem {
            target: "h10:/".into(),
            result: Err(Error::connect("h10", "refused")),
        });
        let groups = fold(&items);
        let shown: Vec<(String, bool)> = groups
            .iter()
            .map(|g| (label(&items, &g.members), g.succeeded))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("h8:/".to_string(), false),
                ("h[9-10]:/".to_string(), false),
                ("h7:/".to_string(), true),
                ("h[1-6]:/".to_string(), true),
            ]
        );
        // The same one item at a time.
        let mut folder = Folder::new();
        for (i, item) in items.iter().enumerate().rev() {
            folder.add(i, item);
        }
        let again: Vec<AnswerGroup> = folder
            .display_order()
            .into_iter()
            .map(|g| folder.groups()[g].clone())
            .collect();
        assert_eq!(again, groups);
        assert_eq!(
            error_text(&items[8].result.clone().unwrap_err()),
            "cannot connect: refused"
        );
    }

    #[test]
    fn labels_name_each_path() {
        let items = vec![
            command("a1:/x", "", 0),
            command("a2:/x", "", 0),
            command("a3:/y", "", 0),
        ];
        assert_eq!(label(&items, &[0, 1, 2]), "a[1-2]:/x, a3:/y");
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_fold() {
        use crate::{fold, BroadcastItem, Error, ExecOutput, Outcome};
        let ok = |t: &str| BroadcastItem {
            target: t.into(),
            result: Ok(Outcome::Command(ExecOutput {
                stdout: b"up\n".to_vec(),
                stdout_total: 3,
                exit_code: Some(0),
                ..Default::default()
            })),
        };
        let down = BroadcastItem {
            target: "w3:/".into(),
            result: Err(Error::connect("w3", "refused")),
        };
        let items = vec![ok("w1:/"), ok("w2:/"), down];
        let groups = fold::fold(&items);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[0].members.clone(), groups[0].succeeded),
            (vec![2], false)
        );
        assert_eq!(fold::label(&items, &groups[1].members), "w[1-2]:/");
    }

    #[test]
    fn example_label_targets() {
        let targets = ["w1:/etc", "w2:/etc", "db:/var"].map(String::from);
        assert_eq!(crate::fold::label_targets(&targets), "w[1-2]:/etc, db:/var");
    }
}
