//! Per-host service resources (docs/BEHAVIOUR.md §4.2): `{host}://docker`,
//! `{host}://docker/{name}/logs`, `{host}://compose`, `{host}://compose/{project}`,
//! `{host}://compose/{project}/logs`, `{host}://zfs`, `{host}://zfs/{pool}`,
//! `{host}://zfs/{pool}/datasets`, `{host}://zfs/snapshots` and `{host}://syslog`.
//!
//! The module is pure. [`KINDS`] lists every service once: its URI, title and description.
//! [`Service::parse`] reads the part of the URI after `{host}://`,
//! [`Service::command`] builds the one POSIX `sh` command line to run over SSH (one round trip per
//! resource), and [`Service::render`] turns what that command printed into the resource text.
//!
//! What the commands promise the renderer, so that it never has to guess:
//! - A missing tool ends the command with [`EXIT_NOT_INSTALLED`] (69, sysexits' EX_UNAVAILABLE)
//!   after a `scout-mcp: not installed: TOOL` line on stderr. An installed tool that fails keeps
//!   its own exit status and message. A missing tool is not an error: the resource says so in
//!   text (docs/BEHAVIOUR.md §4.2).
//! - A compose project without containers ends with [`EXIT_NO_SUCH_PROJECT`] (66, EX_NOINPUT)
//!   after a `scout-mcp: no such compose project` line on stderr.
//! - `syslog` names the file it fell back to with a `scout-mcp: source: PATH` line on stderr.
//! - `compose/{project}` prints each compose file as an ASCII record separator (0x1E), the path, a
//!   newline and the file's bytes, so no file content can pass for a header.
//!
//! The commands use only what dash, bash, zsh, ksh and busybox sh do alike, because SSH runs them
//! with the remote user's login shell.

use crate::ops::command::shell_quote;
use std::fmt::Write as _;

/// Exit status of a service command whose tool is not installed on the host.
pub const EXIT_NOT_INSTALLED: i32 = 69;
/// Exit status of a compose command for a project that has no containers on the host.
pub const EXIT_NO_SUCH_PROJECT: i32 = 66;

const NOT_INSTALLED: &str = "scout-mcp: not installed: ";
const NO_SUCH_PROJECT: &str = "scout-mcp: no such compose project";
const SOURCE: &str = "scout-mcp: source: ";
const RECORD: char = '\u{1e}';

/// Lines of every log resource (docs/BEHAVIOUR.md §4.2).
const LOG_LINES: usize = 100;
/// Snapshots listed by `zfs/snapshots`, newest first; hosts with sanoid keep thousands.
const MAX_SNAPSHOTS: usize = 100;
/// Longer than any Docker, Compose or ZFS name can be.
const MAX_NAME_LEN: usize = 255;
/// How much of a tool's error output goes into an error message.
const MAX_DETAIL: usize = 600;

/// `docker ps` columns, tab-separated: no name, image, status or port list contains a tab, and
/// this works with every docker version, unlike `--format json`.
const PS_FORMAT: &str = r"{{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}";
/// The label Compose puts on each container of a project: its compose files, comma-separated.
/// The `x` makes a container whose label is missing print a non-empty line, so "no container"
/// and "no recorded files" stay apart.
const CONFIG_FILES_FORMAT: &str = r#"x{{.Label "com.docker.compose.project.config_files"}}"#;
const PROJECT_FILTER: &str = "label=com.docker.compose.project=";
/// Non-root users often lack the sbin directories on their PATH, and the ZFS tools live there.
const SBIN_PATH: &str = r#"PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin""#;

/// A per-host service resource, parsed from the part of the URI after `{host}://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// `docker`: all containers with image, status and ports.
    Docker,
    /// `docker/{name}/logs`: the last 100 log lines of a container.
    DockerLogs(String),
    /// `compose`: the Compose projects, running or stopped.
    Compose,
    /// `compose/{project}`: the compose files of a project, with their content.
    ComposeProject(String),
    /// `compose/{project}/logs`: the last 100 log lines of a project's containers.
    ComposeLogs(String),
    /// `zfs`: the pools with size, usage and health.
    Zfs,
    /// `zfs/{pool}`: `zpool status` of a pool.
    ZfsPool(String),
    /// `zfs/{pool}/datasets`: the filesystems and volumes of a pool.
    ZfsDatasets(String),
    /// `zfs/snapshots`: the newest snapshots of all pools.
    ZfsSnapshots,
    /// `syslog`: the last 100 lines of the journal, else of /var/log/syslog or /var/log/messages.
    Syslog,
}

/// One kind of service resource: its URI, title and description for listings, and how to
/// build it. The one list of services ([`KINDS`]); parsing, URIs, listings and templates all
/// come from it, so a new service is one entry here plus its command and renderer.
#[derive(Debug)]
pub struct Kind {
    /// The URI after `{host}://`; a `{…}` part is the one name it takes (a template).
    pub uri: &'static str,
    /// Short title, for `resources/list`.
    pub title: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// What the name is (for error messages); empty for a URI without a name.
    what: &'static str,
    make: fn(String) -> Service,
}

impl Kind {
    /// Whether the URI takes a name (a template, not a listed resource).
    pub fn is_template(&self) -> bool {
        self.uri.contains('{')
    }

    /// The fixed text before and after the name (the whole URI and "" for a static one).
    fn parts(&self) -> (&'static str, &'static str) {
        match (self.uri.find('{'), self.uri.find('}')) {
            (Some(open), Some(close)) => (&self.uri[..open], &self.uri[close + 1..]),
            _ => (self.uri, ""),
        }
    }
}

/// Every service resource. Static URIs match before templates, and templates with a longer
/// suffix first, so `zfs/snapshots` is the snapshot list (never a pool) and `compose/x/logs`
/// the logs of `x` (not the project `x/logs`).
pub static KINDS: [Kind; 10] = [
    Kind {
        uri: "docker",
        title: "Docker containers",
        description: "All containers (docker ps -a): name, image, status, published ports",
        what: "",
        make: |_| Service::Docker,
    },
    Kind {
        uri: "docker/{name}/logs",
        title: "Container logs",
        description: "Last 100 log lines of a container, with timestamps",
        what: "container",
        make: Service::DockerLogs,
    },
    Kind {
        uri: "compose",
        title: "Compose projects",
        description: "Docker Compose projects, running or stopped, with their compose files",
        what: "",
        make: |_| Service::Compose,
    },
    Kind {
        uri: "compose/{project}",
        title: "Compose files",
        description: "The compose file(s) of a Compose project, with their content",
        what: "compose project",
        make: Service::ComposeProject,
    },
    Kind {
        uri: "compose/{project}/logs",
        title: "Compose project logs",
        description: "Last 100 log lines of a Compose project's containers, oldest first",
        what: "compose project",
        make: Service::ComposeLogs,
    },
    Kind {
        uri: "zfs",
        title: "ZFS pools",
        description: "ZFS pools: size, allocated, free, capacity, fragmentation, health",
        what: "",
        make: |_| Service::Zfs,
    },
    Kind {
        uri: "zfs/{pool}",
        title: "ZFS pool status",
        description: "zpool status of a pool: state, last scrub, devices, errors",
        what: "pool",
        make: Service::ZfsPool,
    },
    Kind {
        uri: "zfs/{pool}/datasets",
        title: "ZFS datasets",
        description: "Filesystems and volumes of a pool: used, available, referenced, mountpoint",
        what: "pool",
        make: Service::ZfsDatasets,
    },
    Kind {
        uri: "zfs/snapshots",
        title: "ZFS snapshots",
        description: "The newest 100 ZFS snapshots of all pools",
        what: "",
        make: |_| Service::ZfsSnapshots,
    },
    Kind {
        uri: "syslog",
        title: "System log",
        description: "Last 100 lines of the journal (journalctl), else of /var/log/syslog or /var/log/messages",
        what: "",
        make: |_| Service::Syslog,
    },
];

impl Service {
    /// Parses `rest`, the part of the URI after `{host}://`, e.g. `docker`, `docker/web/logs`,
    /// `zfs/tank/datasets`. `None`: not a service URI (the caller treats it as a file path).
    /// `Some(Err(message))`: a service URI with an invalid name.
    ///
    /// A name is everything between a template's prefix and suffix, so `docker/../etc/logs` is
    /// the invalid container name `../etc`; a name that ends the URI (`compose/{project}`,
    /// `zfs/{pool}`) is one path segment, so `compose/a/b` is a file path. `zfs/snapshots` is the
    /// snapshot list, never a pool (static URIs match before templates).
    pub fn parse(rest: &str) -> Option<Result<Service, String>> {
        if let Some(kind) = KINDS.iter().find(|k| !k.is_template() && k.uri == rest) {
            return Some(Ok((kind.make)(String::new())));
        }
        let mut templates: Vec<&Kind> = KINDS.iter().filter(|k| k.is_template()).collect();
        templates.sort_by_key(|k| std::cmp::Reverse(k.parts().1.len()));
        for kind in templates {
            let (prefix, suffix) = kind.parts();
            let Some(name) = rest
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(suffix))
            else {
                continue;
            };
            if suffix.is_empty() && name.contains('/') {
                continue;
            }
            return Some(validate_name(name, kind.what).map(kind.make));
        }
        None
    }

    /// The part of the URI after `{host}://` that names this resource (the inverse of
    /// [`Service::parse`]).
    pub fn uri(&self) -> String {
        let (prefix, suffix) = self.kind().parts();
        if self.kind().is_template() {
            format!("{prefix}{}{suffix}", self.name())
        } else {
            prefix.to_string()
        }
    }

    /// The entry of [`KINDS`] this service was made from.
    fn kind(&self) -> &'static Kind {
        let i = match self {
            Service::Docker => 0,
            Service::DockerLogs(_) => 1,
            Service::Compose => 2,
            Service::ComposeProject(_) => 3,
            Service::ComposeLogs(_) => 4,
            Service::Zfs => 5,
            Service::ZfsPool(_) => 6,
            Service::ZfsDatasets(_) => 7,
            Service::ZfsSnapshots => 8,
            Service::Syslog => 9,
        };
        &KINDS[i]
    }

    /// The remote POSIX `sh` command line to run. Names are validated by [`Service::parse`] and
    /// still single-quoted. A missing tool ends it with [`EXIT_NOT_INSTALLED`] and a marker line
    /// on stderr, distinct from the tool's own failures.
    pub fn command(&self) -> String {
        match self {
            Service::Docker => format!(
                "{}; docker ps -a --format {}",
                need("docker"),
                shell_quote(PS_FORMAT)
            ),
            // 2>&1: a container's stderr is half its log, and only the merge keeps the order.
            Service::DockerLogs(name) => format!(
                "{}; docker logs --tail {LOG_LINES} --timestamps {} 2>&1",
                need("docker"),
                shell_quote(name)
            ),
            Service::Compose => format!(
                "{}; {}; docker compose ls -a --format json",
                need("docker"),
                need_compose()
            ),
            Service::ComposeProject(project) => compose_files_command(project),
            Service::ComposeLogs(project) => format!(
                "{}; {}; {}; docker compose -p {} logs --tail {LOG_LINES} --timestamps \
                 --no-color 2>&1",
                need("docker"),
                need_compose(),
                need_project(project),
                shell_quote(project)
            ),
            Service::Zfs => format!(
                "{}; zpool list -H -p -o name,size,alloc,free,cap,frag,health",
                need_zfs("zpool")
            ),
            Service::ZfsPool(pool) => {
                format!("{}; zpool status {}", need_zfs("zpool"), shell_quote(pool))
            }
            Service::ZfsDatasets(pool) => format!(
                "{}; zfs list -H -p -r -t filesystem,volume -o name,used,avail,refer,mountpoint {}",
                need_zfs("zfs"),
                shell_quote(pool)
            ),
            // Newest first, so an output cap cuts the oldest snapshots, not the newest.
            Service::ZfsSnapshots => format!(
                "{}; zfs list -H -p -t snapshot -o name,used,refer,creation -S creation",
                need_zfs("zfs")
            ),
            Service::Syslog => syslog_command(),
        }
    }

    /// Turns the command's stdout, stderr and exit status (`None`: stopped or killed) into the
    /// resource text, or an `Err` that says what went wrong and what to do. `host` is the alias,
    /// for the messages. A host without the tool gets `Ok` text that says so.
    pub fn render(
        &self,
        host: &str,
        stdout: &[u8],
        stderr: &[u8],
        exit_code: Option<i32>,
    ) -> Result<String, String> {
        let err = clean(stderr);
        if exit_code == Some(EXIT_NOT_INSTALLED) {
            if let Some(tool) = marker(&err, NOT_INSTALLED) {
                return Ok(not_installed(host, tool, &err));
            }
        }
        let Some(code) = exit_code else {
            return Err(format!(
                "{host}: the command for {host}://{} was stopped before it finished",
                self.uri()
            ));
        };
        if code == EXIT_NO_SUCH_PROJECT && marker(&err, NO_SUCH_PROJECT).is_some() {
            return Err(no_such(host, "compose project", self.name(), "compose"));
        }
        if code != 0 {
            // The log commands merge the tool's stderr into stdout: its message may be there.
            let text = format!("{}\n{err}", clean(stdout));
            return Err(self.failure(host, code, &text));
        }
        Ok(self.render_success(host, stdout, &err))
    }

    fn name(&self) -> &str {
        match self {
            Service::DockerLogs(n)
            | Service::ComposeProject(n)
            | Service::ComposeLogs(n)
            | Service::ZfsPool(n)
            | Service::ZfsDatasets(n) => n,
            _ => "",
        }
    }

    fn tool(&self) -> &'static str {
        match self {
            Service::Docker | Service::DockerLogs(_) | Service::ComposeProject(_) => "docker",
            Service::Compose | Service::ComposeLogs(_) => "docker compose",
            Service::Zfs | Service::ZfsPool(_) => "zpool",
            Service::ZfsDatasets(_) | Service::ZfsSnapshots => "zfs",
            Service::Syslog => "the system log command",
        }
    }

    /// The message for an installed tool that failed; `text` is what it printed.
    fn failure(&self, host: &str, code: i32, text: &str) -> String {
        match self {
            Service::DockerLogs(name) if text.contains("No such container") => {
                return no_such(host, "container", name, "docker");
            }
            Service::ZfsPool(pool) if text.contains("no such pool") => {
                return no_such(host, "ZFS pool", pool, "zfs");
            }
            Service::ZfsDatasets(pool) if text.contains("dataset does not exist") => {
                return no_such(host, "ZFS pool", pool, "zfs");
            }
            _ => {}
        }
        let mut message = format!(
            "{host}: {} failed (exit status {code}): {}",
            self.tool(),
            detail(text)
        );
        if text.contains("permission denied") && self.tool().starts_with("docker") {
            message.push_str(
                " — the SSH user needs access to the Docker socket (e.g. membership of the \
                 `docker` group)",
            );
        }
        message
    }

    fn render_success(&self, host: &str, stdout: &[u8], err: &str) -> String {
        let out = || clean(stdout);
        match self {
            Service::Docker => render_containers(host, &out()),
            Service::DockerLogs(name) => {
                let title = format!("Logs of container {name} on {host}");
                render_log(&title, out().lines().collect())
            }
            Service::Compose => render_projects(host, &out()),
            // Split at the record separators first: cleaning would drop them.
            Service::ComposeProject(project) => render_compose_files(host, project, stdout, err),
            Service::ComposeLogs(project) => {
                let title = format!("Logs of compose project {project} on {host}");
                render_log(&title, sort_compose_log(out().lines().collect()))
            }
            Service::Zfs => render_pools(host, &out()),
            Service::ZfsPool(pool) => format!(
                "ZFS pool {pool} on {host}\n\n{}\n\nDatasets: {host}://zfs/{pool}/datasets\n",
                out().trim_end()
            ),
            Service::ZfsDatasets(pool) => render_datasets(host, pool, &out()),
            Service::ZfsSnapshots => render_snapshots(host, &out()),
            Service::Syslog => render_syslog(host, &out(), err),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Names and commands

/// Checks a name against `[A-Za-z0-9_.-]+` (docs/BEHAVIOUR.md §4.2), and refuses what would still
/// mislead a tool: a leading `-` (read as an option), `.` and `..`, an absurd length.
fn validate_name(name: &str, what: &str) -> Result<String, String> {
    let shown = shorten(name, 64);
    if name.is_empty() {
        return Err(format!("the {what} name is empty"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "invalid {what} name {shown:?}: {bad:?} is not allowed (only A-Z a-z 0-9 _ . -)"
        ));
    }
    if name.starts_with('-') {
        return Err(format!(
            "invalid {what} name {shown:?}: it must not start with '-'"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("invalid {what} name {shown:?}"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "invalid {what} name {shown:?}: longer than {MAX_NAME_LEN} characters"
        ));
    }
    Ok(name.to_string())
}

/// Ends the command with the not-installed status and marker.
fn missing(what: &str) -> String {
    format!("{{ echo '{NOT_INSTALLED}{what}' >&2; exit {EXIT_NOT_INSTALLED}; }}")
}

fn need(tool: &str) -> String {
    format!("command -v {tool} >/dev/null 2>&1 || {}", missing(tool))
}

/// `docker compose` is a plugin: docker without it answers "unknown command" (exit 1).
fn need_compose() -> String {
    format!(
        "docker compose version >/dev/null 2>&1 || {}",
        missing("docker compose")
    )
}

fn need_zfs(tool: &str) -> String {
    format!(
        "{SBIN_PATH}; command -v {tool} >/dev/null 2>&1 || {}",
        missing("zfs")
    )
}

/// Fails with the no-such-project status when no container carries the project's label. Checked
/// by scout-mcp because what `docker compose -p X logs` does for an unknown X varies by version.
/// `|| exit` keeps docker's own failure (daemon down) from passing for "no such project".
fn need_project(project: &str) -> String {
    format!(
        "ids=$(docker ps -a -q --filter {}) || exit; [ -n \"$ids\" ] || {}",
        shell_quote(&format!("{PROJECT_FILTER}{project}")),
        no_project()
    )
}

fn no_project() -> String {
    format!("{{ echo '{NO_SUCH_PROJECT}' >&2; exit {EXIT_NO_SUCH_PROJECT}; }}")
}

/// One round trip: the config_files label of the project's first container (what `docker
/// compose ls` shows), split at commas, then each file as a record: 0x1E, path, newline,
/// content. A file that cannot be read leaves an empty record and cat's message on stderr.
fn compose_files_command(project: &str) -> String {
    format!(
        "{}; f=$(docker ps -a --filter {} --format {}) || exit; [ -n \"$f\" ] || {}; \
         f=$(printf '%s\\n' \"$f\" | head -n 1); \
         printf '%s\\n' \"${{f#x}}\" | tr , '\\n' | while IFS= read -r c; do \
         [ -z \"$c\" ] || {{ printf '\\036%s\\n' \"$c\"; cat -- \"$c\"; }}; done; exit 0",
        need("docker"),
        shell_quote(&format!("{PROJECT_FILTER}{project}")),
        shell_quote(CONFIG_FILES_FORMAT),
        no_project()
    )
}

/// journalctl when it has entries; else the first readable of /var/log/syslog and
/// /var/log/messages (a journal without entries, as in containers, is no answer while a file
/// has lines); else the empty journal's own words; else the not-installed marker.
fn syslog_command() -> String {
    format!(
        "j=; if command -v journalctl >/dev/null 2>&1; then \
         j=$(journalctl -n {LOG_LINES} --no-pager) || j=; fi; \
         case $j in ''|'-- No entries --') ;; *) printf '%s\\n' \"$j\"; exit 0;; esac; \
         for f in /var/log/syslog /var/log/messages; do if [ -r \"$f\" ]; then \
         echo \"{SOURCE}$f\" >&2; exec tail -n {LOG_LINES} \"$f\"; fi; done; \
         if [ -n \"$j\" ]; then printf '%s\\n' \"$j\"; exit 0; fi; {}",
        missing("syslog")
    )
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Decodes lossily and drops what a text/plain reader cannot use: ANSI escape sequences (log
/// colours), carriage returns and other control characters except tab and newline.
fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips the rest of an escape sequence: CSI (`ESC [ params final`) or a two-character one.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    if chars.next_if_eq(&'[').is_none() {
        chars.next();
        return;
    }
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// The value after `prefix` on the first stderr line that starts with it.
fn marker<'a>(stderr: &'a str, prefix: &str) -> Option<&'a str> {
    stderr.lines().find_map(|l| l.strip_prefix(prefix))
}

/// A tool's message for an error: its non-empty lines without our markers, joined, capped.
fn detail(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("scout-mcp: "))
        .collect();
    if lines.is_empty() {
        return "no error message".to_string();
    }
    shorten(&lines.join(" "), MAX_DETAIL)
}

/// Cuts `s` to `max` characters with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn no_such(host: &str, what: &str, name: &str, list: &str) -> String {
    format!("{host}: no {what} named '{name}'; {host}://{list} lists them")
}

fn not_installed(host: &str, tool: &str, stderr: &str) -> String {
    match tool {
        "docker" => format!(
            "Docker is not installed on {host}: there is no `docker` command on the SSH user's \
             PATH.\n"
        ),
        "docker compose" => format!(
            "Docker Compose v2 is not installed on {host}: `docker compose` is not available \
             (the compose plugin is missing).\n"
        ),
        "zfs" => format!(
            "ZFS is not installed on {host}: there is no `zpool`/`zfs` command on the SSH \
             user's PATH, nor in /usr/local/sbin, /usr/sbin or /sbin.\n"
        ),
        "syslog" => {
            let mut text = format!(
                "No system log is readable on {host}: journalctl is missing or returned nothing, \
                 and neither /var/log/syslog nor /var/log/messages is readable by the SSH user \
                 (on Debian/Ubuntu, membership of the `adm` group gives read access).\n"
            );
            append_stderr(&mut text, stderr);
            text
        }
        other => format!("`{other}` is not installed on {host}.\n"),
    }
}

/// Appends the tool's stderr (hints such as journalctl's about missing permissions) under a
/// `[stderr]` line, as the scout tool shows a command's stderr.
fn append_stderr(text: &mut String, stderr: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("scout-mcp: "))
        .collect();
    if !lines.is_empty() {
        let _ = write!(text, "\n[stderr]\n{}\n", lines.join("\n"));
    }
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Tab-separated fields of a line, padded to `n` so short lines cannot index out of bounds.
fn fields(line: &str, n: usize) -> Vec<String> {
    let mut f: Vec<String> = line.split('\t').map(str::to_string).collect();
    f.resize(n, String::new());
    f
}

fn render_containers(host: &str, out: &str) -> String {
    let rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f = fields(l, 4);
            vec![
                f[0].clone(),
                f[1].clone(),
                f[2].clone(),
                compact_ports(&f[3]),
            ]
        })
        .collect();
    if rows.is_empty() {
        return format!("No containers on {host}.\n");
    }
    let running = rows.iter().filter(|r| r[2].starts_with("Up")).count();
    format!(
        "Docker containers on {host} ({} in all, {running} running)\n\n{}\nLogs: \
         {host}://docker/{{name}}/logs\n",
        rows.len(),
        table(&["NAME", "IMAGE", "STATUS", "PORTS"], &rows)
    )
}

/// `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp` → `8080->80/tcp`: the wildcard addresses say
/// nothing, and the IPv6 twin of each mapping doubles the column.
fn compact_ports(ports: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for port in ports.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let port = ["0.0.0.0:", "[::]:", ":::"]
            .iter()
            .find_map(|any| port.strip_prefix(any))
            .unwrap_or(port);
        if !seen.contains(&port) {
            seen.push(port);
        }
    }
    seen.join(", ")
}

/// The last [`LOG_LINES`] lines under a title, or a note that there are none.
fn render_log(title: &str, lines: Vec<&str>) -> String {
    let start = lines.len().saturating_sub(LOG_LINES);
    let shown = &lines[start..];
    if shown.iter().all(|l| l.trim().is_empty()) {
        return format!("{title}: (no log output)\n");
    }
    let noun = if shown.len() == 1 { "line" } else { "lines" };
    format!(
        "{title}, last {} {noun}:\n\n{}\n",
        shown.len(),
        shown.join("\n")
    )
}

/// `docker compose logs --tail N` prints each container's last N lines container by container;
/// ordering them by the daemon's fixed-width timestamp interleaves them in time. A line without
/// a timestamp (a continuation) keeps the previous line's place.
fn sort_compose_log(lines: Vec<&str>) -> Vec<&str> {
    let mut keyed = Vec::with_capacity(lines.len());
    let mut last = "";
    for (i, line) in lines.into_iter().enumerate() {
        last = compose_timestamp(line).unwrap_or(last);
        keyed.push((last, i, line));
    }
    keyed.sort();
    keyed.into_iter().map(|(_, _, line)| line).collect()
}

/// The RFC 3339 timestamp after the `name | ` prefix of a compose log line.
fn compose_timestamp(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(" | ")?;
    let ts = rest.split(' ').next()?;
    let b = ts.as_bytes();
    let looks_right =
        b.len() >= 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T';
    looks_right.then_some(ts)
}

fn render_projects(host: &str, out: &str) -> String {
    let projects = match parse_projects(out) {
        Ok(p) => p,
        Err(e) => {
            return format!(
                "Compose projects on {host}: the output of `docker compose ls` could not be \
                 read ({e}):\n\n{}\n",
                out.trim_end()
            )
        }
    };
    if projects.is_empty() {
        return format!("No Compose projects on {host}.\n");
    }
    format!(
        "Compose projects on {host} ({})\n\n{}\nFiles: {host}://compose/{{project}}   Logs: \
         {host}://compose/{{project}}/logs\n",
        projects.len(),
        table(&["NAME", "STATUS", "CONFIG FILES"], &projects)
    )
}

/// `docker compose ls --format json`: `[{"Name":..,"Status":..,"ConfigFiles":..}, ...]`.
fn parse_projects(out: &str) -> Result<Vec<Vec<String>>, String> {
    let trimmed = out.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| e.to_string())?;
    let serde_json::Value::Array(items) = value else {
        return Err("not a JSON array".to_string());
    };
    Ok(items
        .iter()
        .map(|p| {
            ["Name", "Status", "ConfigFiles"]
                .iter()
                .map(|k| field(p, k).unwrap_or_default())
                .collect()
        })
        .collect())
}

/// A scalar member of a JSON object, as text (`null`, arrays and objects: none).
fn field(object: &serde_json::Value, key: &str) -> Option<String> {
    match object.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Splits the records of [`compose_files_command`] and shows each file under a header.
fn render_compose_files(host: &str, project: &str, stdout: &[u8], stderr: &str) -> String {
    let raw = String::from_utf8_lossy(stdout);
    let files: Vec<(&str, &str)> = raw
        .split(RECORD)
        .skip(1)
        .map(|r| r.split_once('\n').unwrap_or((r, "")))
        .collect();
    if files.is_empty() {
        return format!(
            "Compose project {project} on {host} has no recorded compose files (its containers \
             carry no com.docker.compose.project.config_files label).\n"
        );
    }
    let mut text = format!(
        "Compose files of project {project} on {host} ({}):\n",
        files.len()
    );
    for (path, content) in files {
        let path = clean(path.as_bytes());
        let _ = write!(text, "\n==> {path} <==\n");
        text.push_str(&file_body(&path, content, stderr));
    }
    let _ = writeln!(text, "\nLogs: {host}://compose/{project}/logs");
    text
}

/// A file's content, or why there is none: cat's message about it, or "empty".
fn file_body(path: &str, content: &str, stderr: &str) -> String {
    if !content.is_empty() {
        let mut body = clean(content.as_bytes());
        if !body.ends_with('\n') {
            body.push('\n');
        }
        return body;
    }
    match stderr.lines().find(|l| l.contains(path)) {
        Some(why) => format!("(cannot read: {})\n", why.trim()),
        None => "(empty file)\n".to_string(),
    }
}

fn render_pools(host: &str, out: &str) -> String {
    let rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f = fields(l, 7);
            vec![
                f[0].clone(),
                size(&f[1]),
                size(&f[2]),
                size(&f[3]),
                percent(&f[4]),
                percent(&f[5]),
                f[6].clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return format!("ZFS is installed on {host} but there are no pools.\n");
    }
    format!(
        "ZFS pools on {host}\n\n{}\nStatus: {host}://zfs/{{pool}}   Datasets: \
         {host}://zfs/{{pool}}/datasets   Snapshots: {host}://zfs/snapshots\n",
        table(
            &["NAME", "SIZE", "ALLOC", "FREE", "CAP", "FRAG", "HEALTH"],
            &rows
        )
    )
}

fn render_datasets(host: &str, pool: &str, out: &str) -> String {
    let rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f = fields(l, 5);
            vec![
                f[0].clone(),
                size(&f[1]),
                size(&f[2]),
                size(&f[3]),
                f[4].clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return format!("ZFS pool {pool} on {host} has no filesystems or volumes.\n");
    }
    format!(
        "ZFS datasets of pool {pool} on {host} ({})\n\n{}",
        rows.len(),
        table(&["NAME", "USED", "AVAIL", "REFER", "MOUNTPOINT"], &rows)
    )
}

fn render_snapshots(host: &str, out: &str) -> String {
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return format!("No ZFS snapshots on {host}.\n");
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .take(MAX_SNAPSHOTS)
        .map(|l| {
            let f = fields(l, 4);
            vec![f[0].clone(), size(&f[1]), size(&f[2]), timestamp(&f[3])]
        })
        .collect();
    let count = if lines.len() > rows.len() {
        format!("newest {} of {}", rows.len(), lines.len())
    } else {
        lines.len().to_string()
    };
    format!(
        "ZFS snapshots on {host} ({count}, newest first)\n\n{}",
        table(&["NAME", "USED", "REFER", "CREATED (UTC)"], &rows)
    )
}

fn render_syslog(host: &str, out: &str, err: &str) -> String {
    let source = marker(err, SOURCE).unwrap_or("journalctl");
    let title = format!("System log of {host} ({source})");
    let mut text = render_log(&title, out.lines().collect());
    append_stderr(&mut text, err);
    text
}

/// Bytes as ZFS shows them (1024-based, three significant digits: `21.8T`); anything that is
/// not a byte count (`-`) as it is.
fn size(field: &str) -> String {
    let Ok(bytes) = field.parse::<u64>() else {
        return field.to_string();
    };
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < 6 {
        value /= 1024.0;
        unit += 1;
    }
    let suffix = ["B", "K", "M", "G", "T", "P", "E"][unit];
    match value {
        v if v < 10.0 => format!("{v:.2}{suffix}"),
        v if v < 100.0 => format!("{v:.1}{suffix}"),
        v => format!("{v:.0}{suffix}"),
    }
}

fn percent(field: &str) -> String {
    match field.parse::<u64>() {
        Ok(n) => format!("{n}%"),
        Err(_) => field.to_string(),
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM` (UTC); anything else as it is.
fn timestamp(field: &str) -> String {
    match field.parse::<i64>() {
        Ok(secs) => crate::ops::fs::format_time(secs),
        Err(_) => field.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    // -----------------------------------------------------------------------------------------
    // Parsing

    fn ok(rest: &str) -> Service {
        match Service::parse(rest) {
            Some(Ok(s)) => s,
            other => panic!("{rest}: {other:?}"),
        }
    }

    fn invalid(rest: &str) -> String {
        match Service::parse(rest) {
            Some(Err(e)) => e,
            other => panic!("{rest}: expected an invalid name, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_uri_form() {
        assert_eq!(ok("docker"), Service::Docker);
        assert_eq!(ok("docker/web/logs"), Service::DockerLogs("web".into()));
        assert_eq!(ok("compose"), Service::Compose);
        assert_eq!(ok("compose/media"), Service::ComposeProject("media".into()));
        assert_eq!(
            ok("compose/media/logs"),
            Service::ComposeLogs("media".into())
        );
        assert_eq!(ok("zfs"), Service::Zfs);
        assert_eq!(ok("zfs/tank"), Service::ZfsPool("tank".into()));
        assert_eq!(ok("zfs/tank/datasets"), Service::ZfsDatasets("tank".into()));
        assert_eq!(ok("zfs/snapshots"), Service::ZfsSnapshots);
        assert_eq!(ok("syslog"), Service::Syslog);
        assert_eq!(
            ok("docker/a.b_c-1/logs"),
            Service::DockerLogs("a.b_c-1".into())
        );
        // A project named "logs" and a pool named "datasets" are still reachable.
        assert_eq!(ok("compose/logs"), Service::ComposeProject("logs".into()));
        assert_eq!(ok("zfs/datasets"), Service::ZfsPool("datasets".into()));
        assert_eq!(ok("compose/logs/logs"), Service::ComposeLogs("logs".into()));
    }

    #[test]
    fn uri_is_the_inverse_of_parse() {
        for rest in [
            "docker",
            "docker/web/logs",
            "compose",
            "compose/media",
            "compose/media/logs",
            "zfs",
            "zfs/tank",
            "zfs/tank/datasets",
            "zfs/snapshots",
            "syslog",
        ] {
            assert_eq!(ok(rest).uri(), rest);
        }
    }

    #[test]
    fn refuses_invalid_names() {
        assert!(invalid("docker/../etc/logs").contains("'/'"));
        assert!(invalid("docker/a;b/logs").contains("';'"));
        assert!(invalid("docker//logs").contains("empty"));
        assert!(invalid("docker/wéb/logs").contains("'é'"));
        assert!(invalid("docker/$(id)/logs").contains("'$'"));
        assert!(invalid("docker/a b/logs").contains("' '"));
        assert!(invalid("docker/a'b/logs").contains("'\\''"));
        assert!(invalid("docker/-f/logs").contains("'-'"));
        assert!(invalid("docker/../logs").contains("\"..\""));
        assert!(invalid("docker/./logs").contains("\".\""));
        assert!(invalid("compose/").contains("empty"));
        assert!(invalid("compose/a%2Fb").contains("'%'"));
        assert!(invalid("compose/x\ny/logs").contains("'\\n'"));
        assert!(invalid("compose/a/b/logs").contains("'/'"));
        assert!(invalid("zfs/").contains("empty"));
        assert!(invalid("zfs//datasets").contains("empty"));
        assert!(invalid("zfs/tank`x`").contains("'`'"));
        assert!(invalid("zfs/名前/datasets").contains("'名'"));
        assert!(invalid(&format!("zfs/{}", "a".repeat(256))).contains("longer than 255"));
        assert_eq!(
            ok(&format!("zfs/{}", "a".repeat(255))),
            Service::ZfsPool("a".repeat(255))
        );
    }

    #[test]
    fn other_uris_are_file_paths() {
        for rest in [
            "",
            "/etc/hosts",
            "var/log/syslog",
            "docker/",
            "docker/web",
            "docker/logs",
            "docker/web/logs/x",
            "docker/appdata/plex/config.xml",
            "compose/a/b",
            "zfs/tank/x",
            "zfs/tank/",
            "Docker",
            "syslog/",
            "dockers",
            "syslog.1",
        ] {
            assert_eq!(Service::parse(rest), None, "{rest}");
        }
    }

    #[test]
    fn commands_are_exactly_these() {
        let d = "command -v docker >/dev/null 2>&1 || { echo 'scout-mcp: not installed: docker' \
                 >&2; exit 69; }";
        let c = "docker compose version >/dev/null 2>&1 || { echo 'scout-mcp: not installed: \
                 docker compose' >&2; exit 69; }";
        let z = |tool: &str| {
            format!(
                "PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"; command -v {tool} >/dev/null \
                 2>&1 || {{ echo 'scout-mcp: not installed: zfs' >&2; exit 69; }}"
            )
        };
        let p = "{ echo 'scout-mcp: no such compose project' >&2; exit 66; }";
        let cmd = |rest: &str| ok(rest).command();
        assert_eq!(
            cmd("docker"),
            format!(
                "{d}; docker ps -a --format \
                 '{{{{.Names}}}}\\t{{{{.Image}}}}\\t{{{{.Status}}}}\\t{{{{.Ports}}}}'"
            )
        );
        assert_eq!(
            cmd("docker/web/logs"),
            format!("{d}; docker logs --tail 100 --timestamps 'web' 2>&1")
        );
        assert_eq!(
            cmd("compose"),
            format!("{d}; {c}; docker compose ls -a --format json")
        );
        assert_eq!(
            cmd("compose/media"),
            format!(
                "{d}; f=$(docker ps -a --filter 'label=com.docker.compose.project=media' \
                 --format 'x{{{{.Label \"com.docker.compose.project.config_files\"}}}}') || exit; \
                 [ -n \"$f\" ] || {p}; f=$(printf '%s\\n' \"$f\" | head -n 1); printf '%s\\n' \
                 \"${{f#x}}\" | tr , '\\n' | while IFS= read -r c; do [ -z \"$c\" ] || {{ printf \
                 '\\036%s\\n' \"$c\"; cat -- \"$c\"; }}; done; exit 0"
            )
        );
        assert_eq!(
            cmd("compose/media/logs"),
            format!(
                "{d}; {c}; ids=$(docker ps -a -q --filter \
                 'label=com.docker.compose.project=media') || exit; [ -n \"$ids\" ] || {p}; \
                 docker compose -p 'media' logs --tail 100 --timestamps --no-color 2>&1"
            )
        );
        assert_eq!(
            cmd("zfs"),
            format!(
                "{}; zpool list -H -p -o name,size,alloc,free,cap,frag,health",
                z("zpool")
            )
        );
        assert_eq!(
            cmd("zfs/tank"),
            format!("{}; zpool status 'tank'", z("zpool"))
        );
        assert_eq!(
            cmd("zfs/tank/datasets"),
            format!(
                "{}; zfs list -H -p -r -t filesystem,volume -o \
                 name,used,avail,refer,mountpoint 'tank'",
                z("zfs")
            )
        );
        assert_eq!(
            cmd("zfs/snapshots"),
            format!(
                "{}; zfs list -H -p -t snapshot -o name,used,refer,creation -S creation",
                z("zfs")
            )
        );
        assert_eq!(
            cmd("syslog"),
            "j=; if command -v journalctl >/dev/null 2>&1; then j=$(journalctl -n 100 \
             --no-pager) || j=; fi; case $j in ''|'-- No entries --') ;; *) printf '%s\\n' \
             \"$j\"; exit 0;; esac; for f in /var/log/syslog /var/log/messages; do if [ -r \
             \"$f\" ]; then echo \"scout-mcp: source: $f\" >&2; exec tail -n 100 \"$f\"; fi; \
             done; if [ -n \"$j\" ]; then printf '%s\\n' \"$j\"; exit 0; fi; { echo \
             'scout-mcp: not installed: syslog' >&2; exit 69; }"
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_uri() {
        for kind in &KINDS {
            assert!(!kind.title.is_empty() && !kind.description.is_empty());
            // Each URI, with its placeholder filled, parses to a service that prints it back
            // and comes from this entry.
            let (prefix, suffix) = kind.parts();
            let uri = if kind.is_template() {
                format!("{prefix}web{suffix}")
            } else {
                kind.uri.to_string()
            };
            let service = Service::parse(&uri).unwrap().unwrap();
            assert_eq!(service.uri(), uri);
            assert!(std::ptr::eq(service.kind(), kind), "{uri}");
        }
        let uris: std::collections::HashSet<&str> = KINDS.iter().map(|k| k.uri).collect();
        assert_eq!(uris.len(), KINDS.len(), "each URI once");
    }

    // -----------------------------------------------------------------------------------------
    // Running the commands against the stand-ins in fixtures/bin

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/services")
    }

    struct Run {
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        code: Option<i32>,
    }

    /// Runs `command` as SSH would hand it to the login shell, with `path` as PATH.
    fn run_in(shell: &str, command: &str, path: &str, env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(shell);
        cmd.arg("-c")
            .arg(command)
            .env("PATH", path)
            .env_remove("DOCKER_HOST")
            .current_dir(fixtures());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the shell");
        Run {
            stdout: out.stdout,
            stderr: out.stderr,
            code: out.status.code(),
        }
    }

    fn stand_in_path() -> String {
        format!("{}:/usr/bin:/bin", fixtures().join("bin").display())
    }

    /// Runs the service's own command against the stand-ins and renders the result.
    fn fixture(rest: &str) -> Result<String, String> {
        fixture_env(rest, &[])
    }

    fn fixture_env(rest: &str, env: &[(&str, &str)]) -> Result<String, String> {
        let service = ok(rest);
        let r = run_in("/bin/sh", &service.command(), &stand_in_path(), env);
        service.render("nas", &r.stdout, &r.stderr, r.code)
    }

    #[test]
    fn docker_lists_containers() {
        let text = fixture("docker").unwrap();
        assert!(text.starts_with("Docker containers on nas (7 in all, 4 running)\n"));
        let sonarr = text.lines().find(|l| l.starts_with("sonarr ")).unwrap();
        assert!(sonarr.contains("lscr.io/linuxserver/sonarr:4.0.5"));
        assert!(sonarr.contains("Up 3 days"));
        assert!(sonarr.ends_with("  8989->8989/tcp"), "{sonarr}");
        assert!(text.contains("8000->8000/tcp, 9443->9443/tcp, 9000/tcp"));
        assert!(text.contains("Exited (137) 2 weeks ago"));
        assert!(!text.contains("0.0.0.0"));
        assert!(text.contains("nas://docker/{name}/logs"));
        // Columns line up: every row's IMAGE starts where the header's does.
        let at = text.lines().nth(2).unwrap().find("IMAGE").unwrap();
        assert_eq!(&sonarr[at..at + 5], "lscr.");
    }

    #[test]
    fn docker_logs() {
        let text = fixture("docker/sonarr/logs").unwrap();
        assert!(text.starts_with("Logs of container sonarr on nas, last 7 lines:\n\n"));
        assert!(text.contains(
            "2024-05-30T06:20:12.018845230Z [Warn] DownloadClientCheck: Unable to communicate"
        ));
        let plex = fixture("docker/plex/logs").unwrap();
        assert!(plex.contains("───") && plex.contains("██╗"));
        assert_eq!(
            fixture("docker/radarr/logs").unwrap(),
            "Logs of container radarr on nas: (no log output)\n"
        );
        assert_eq!(
            fixture("docker/nosuch/logs").unwrap_err(),
            "nas: no container named 'nosuch'; nas://docker lists them"
        );
    }

    #[test]
    fn compose_lists_projects() {
        let text = fixture("compose").unwrap();
        assert!(text.starts_with("Compose projects on nas (2)\n"));
        let media = text.lines().find(|l| l.starts_with("media ")).unwrap();
        assert!(media.contains("running(3)"));
        assert!(media.contains("compose/media/compose.yaml,"));
        let legacy = text.lines().find(|l| l.starts_with("legacy ")).unwrap();
        assert!(legacy.contains("exited(2)") && legacy.contains("/opt/stacks/legacy/"));
    }

    #[test]
    fn compose_project_shows_its_files() {
        let text = fixture("compose/media").unwrap();
        let dir = fixtures().join("compose/media");
        assert!(text.starts_with("Compose files of project media on nas (2):\n"));
        assert!(text.contains(&format!(
            "\n==> {}/compose.yaml <==\n# Media stack",
            dir.display()
        )));
        assert!(text.contains(&format!(
            "\n==> {}/compose.override.yaml <==\nservices:\n  plex:\n    devices:\n      - \
             /dev/dri:/dev/dri\n",
            dir.display()
        )));
        assert!(text.contains("image: lscr.io/linuxserver/sonarr:4.0.5"));
        assert!(text.ends_with("\nLogs: nas://compose/media/logs\n"));
        // The recorded file no longer exists: cat's message, not a failure of the resource.
        let legacy = fixture("compose/legacy").unwrap();
        assert!(
            legacy.contains("==> /opt/stacks/legacy/docker-compose.yml <==\n(cannot read: cat: ")
        );
        assert!(legacy.contains("No such file or directory)"));
        assert_eq!(
            fixture("compose/nosuch").unwrap_err(),
            "nas: no compose project named 'nosuch'; nas://compose lists them"
        );
    }

    #[test]
    fn compose_logs_are_in_time_order() {
        let text = fixture("compose/media/logs").unwrap();
        let lines: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(lines.len(), 6);
        assert!(lines[0].starts_with("plex    | 2024-05-27T02:11:49"));
        assert!(lines[1].starts_with("sonarr  | 2024-05-30T06:00:01"));
        assert!(lines[3].starts_with("radarr  | 2024-05-30T06:05:00"));
        assert!(lines[5].contains("[Warn] DownloadClientCheck"));
        let legacy = fixture("compose/legacy/logs").unwrap();
        assert!(legacy.lines().nth(2).unwrap().starts_with("app-1  | "));
        assert_eq!(
            fixture("compose/nosuch/logs").unwrap_err(),
            "nas: no compose project named 'nosuch'; nas://compose lists them"
        );
    }

    #[test]
    fn zfs_lists_pools() {
        let text = fixture("zfs").unwrap();
        let tank = text.lines().find(|l| l.starts_with("tank ")).unwrap();
        let cells: Vec<&str> = tank.split_whitespace().collect();
        assert_eq!(
            cells,
            ["tank", "21.8T", "8.95T", "12.9T", "41%", "2%", "ONLINE"]
        );
        let rpool = text.lines().find(|l| l.starts_with("rpool ")).unwrap();
        assert_eq!(
            rpool.split_whitespace().collect::<Vec<_>>(),
            ["rpool", "928G", "147G", "781G", "15%", "9%", "ONLINE"]
        );
        assert!(text.contains("nas://zfs/snapshots"));
    }

    #[test]
    fn zfs_pool_status() {
        let text = fixture("zfs/tank").unwrap();
        assert!(text.starts_with("ZFS pool tank on nas\n\n  pool: tank\n state: ONLINE\n"));
        assert!(text.contains("\t  raidz1-0 "));
        assert!(text.contains("errors: No known data errors\n\nDatasets: nas://zfs/tank/datasets"));
        assert_eq!(
            fixture("zfs/nosuch").unwrap_err(),
            "nas: no ZFS pool named 'nosuch'; nas://zfs lists them"
        );
    }

    #[test]
    fn zfs_datasets() {
        let text = fixture("zfs/tank/datasets").unwrap();
        assert!(text.starts_with("ZFS datasets of pool tank on nas (9)\n"));
        let row = |name: &str| -> Vec<String> {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap();
            line.split_whitespace().map(str::to_string).collect()
        };
        assert_eq!(
            row("tank/media"),
            ["tank/media", "5.12T", "8.11T", "5.12T", "/tank/media"]
        );
        assert_eq!(row("tank"), ["tank", "5.97T", "8.11T", "192K", "/tank"]);
        assert_eq!(row("tank/vm-100-disk-0")[4], "-");
        assert_eq!(row("tank/docker")[4], "legacy");
        assert_eq!(
            fixture("zfs/nosuch/datasets").unwrap_err(),
            "nas: no ZFS pool named 'nosuch'; nas://zfs lists them"
        );
    }

    #[test]
    fn zfs_snapshots_newest_first() {
        let text = fixture("zfs/snapshots").unwrap();
        assert!(text.starts_with("ZFS snapshots on nas (7, newest first)\n"));
        let first = text.lines().nth(3).unwrap();
        assert_eq!(
            first.split_whitespace().collect::<Vec<_>>(),
            [
                "tank/appdata@autosnap_2024-05-30_00:00:01_daily",
                "99.0M",
                "2.80G",
                "2024-05-30",
                "00:00"
            ]
        );
        assert!(text.contains("2024-05-28 14:32"));
        assert!(text.trim_end().ends_with("2024-05-01 00:00"));
    }

    #[test]
    fn syslog_from_journalctl() {
        let text = fixture("syslog").unwrap();
        assert!(text.starts_with("System log of nas (journalctl), last 12 lines:\n\n"));
        assert!(text.contains("nas CRON[412234]: (root) CMD (/usr/sbin/sanoid --cron)"));
        assert!(!text.contains("[stderr]"));
    }

    /// The real journalctl of this machine, whatever its journal holds, renders as text.
    #[test]
    fn syslog_with_the_real_journalctl() {
        let service = Service::Syslog;
        let r = run_in("/bin/sh", &service.command(), "/usr/bin:/bin", &[]);
        let text = service
            .render("here", &r.stdout, &r.stderr, r.code)
            .unwrap();
        assert!(
            text.starts_with("System log of here (") || text.starts_with("No system log"),
            "{text}"
        );
    }

    /// Every shell a login shell may be runs the commands the same way as /bin/sh.
    #[test]
    fn commands_behave_alike_in_every_shell() {
        let shells: Vec<String> = ["dash", "bash", "zsh", "ksh", "mksh", "busybox"]
            .iter()
            .filter_map(|s| which(s))
            .collect();
        for rest in [
            "docker",
            "docker/sonarr/logs",
            "docker/nosuch/logs",
            "compose",
            "compose/media",
            "compose/legacy",
            "compose/nosuch",
            "compose/media/logs",
            "zfs",
            "zfs/tank",
            "zfs/nosuch",
            "zfs/tank/datasets",
            "zfs/snapshots",
            "syslog",
        ] {
            let command = ok(rest).command();
            let reference = run_in("/bin/sh", &command, &stand_in_path(), &[]);
            for shell in &shells {
                let command = if shell.ends_with("busybox") {
                    format!("exec {shell} sh -c {}", shell_quote(&command))
                } else {
                    command.clone()
                };
                let shell = if shell.ends_with("busybox") {
                    "/bin/sh"
                } else {
                    shell
                };
                let r = run_in(shell, &command, &stand_in_path(), &[]);
                assert_eq!(r.code, reference.code, "{shell}: {rest}");
                assert_eq!(r.stdout, reference.stdout, "{shell}: {rest}");
            }
        }
    }

    fn which(program: &str) -> Option<String> {
        let r = run_in(
            "/bin/sh",
            &format!("command -v {program}"),
            "/usr/bin:/bin",
            &[],
        );
        (r.code == Some(0)).then(|| String::from_utf8_lossy(&r.stdout).trim().to_string())
    }

    // -----------------------------------------------------------------------------------------
    // Tool not installed, tool failing

    /// A PATH with the system directories but no stand-ins; skips tools this machine has.
    fn without_tool(tool: &str, rests: &[&str], expected: &str) {
        let path = "/usr/bin:/bin";
        let probe = format!("{SBIN_PATH}; command -v {tool}");
        if run_in("/bin/sh", &probe, path, &[]).code == Some(0) {
            eprintln!("skipped: this machine has {tool} in {path} or an sbin directory");
            return;
        }
        for rest in rests {
            let service = ok(rest);
            let r = run_in("/bin/sh", &service.command(), path, &[]);
            assert_eq!(r.code, Some(EXIT_NOT_INSTALLED), "{rest}");
            let text = service
                .render("bare", &r.stdout, &r.stderr, r.code)
                .unwrap();
            assert!(text.starts_with(expected), "{rest}: {text}");
        }
    }

    #[test]
    fn docker_not_installed() {
        without_tool(
            "docker",
            &[
                "docker",
                "docker/web/logs",
                "compose",
                "compose/media",
                "compose/media/logs",
            ],
            "Docker is not installed on bare: there is no `docker` command",
        );
    }

    #[test]
    fn zfs_not_installed() {
        without_tool(
            "zpool",
            &["zfs", "zfs/tank"],
            "ZFS is not installed on bare",
        );
        without_tool(
            "zfs",
            &["zfs/tank/datasets", "zfs/snapshots"],
            "ZFS is not installed on bare",
        );
    }

    /// docker without the compose plugin, as the real CLI answers (docker 28).
    #[test]
    fn compose_plugin_not_installed() {
        let dir = std::env::temp_dir().join(format!("scout-services-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let docker = dir.join("docker");
        std::fs::write(
            &docker,
            "#!/bin/sh\nprintf 'docker: unknown command: docker %s\\n\\n\
             Run '\\''docker --help'\\'' \
             for more information\\n' \"$1\" >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:/usr/bin:/bin", dir.display());
        for rest in ["compose", "compose/media/logs"] {
            let service = ok(rest);
            let r = run_in("/bin/sh", &service.command(), &path, &[]);
            let text = service.render("nas", &r.stdout, &r.stderr, r.code).unwrap();
            assert!(
                text.starts_with("Docker Compose v2 is not installed on nas"),
                "{text}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn docker_daemon_down() {
        let env = [("DOCKER_HOST", "unix:///nonexistent.sock")];
        let expected = "nas: docker failed (exit status 1): Cannot connect to the Docker daemon \
                        at unix:///nonexistent.sock. Is the docker daemon running?";
        assert_eq!(fixture_env("docker", &env).unwrap_err(), expected);
        assert_eq!(
            fixture_env("docker/sonarr/logs", &env).unwrap_err(),
            expected
        );
        assert_eq!(fixture_env("compose/media", &env).unwrap_err(), expected);
        let compose = expected.replace("docker failed", "docker compose failed");
        assert_eq!(fixture_env("compose", &env).unwrap_err(), compose);
        assert_eq!(
            fixture_env("compose/media/logs", &env).unwrap_err(),
            compose
        );
    }

    /// Where this machine has a real docker CLI, it fails without a daemon exactly as the
    /// stand-in does.
    #[test]
    fn real_docker_without_daemon() {
        let path = "/usr/local/bin:/usr/bin:/bin";
        if run_in("/bin/sh", "command -v docker", path, &[]).code != Some(0) {
            eprintln!("skipped: no docker CLI on this machine");
            return;
        }
        let env = [("DOCKER_HOST", "unix:///nonexistent.sock")];
        for service in [Service::Docker, Service::DockerLogs("web".into())] {
            let r = run_in("/bin/sh", &service.command(), path, &env);
            let err = service
                .render("nas", &r.stdout, &r.stderr, r.code)
                .unwrap_err();
            assert!(
                err.contains("Cannot connect to the Docker daemon at unix:///nonexistent.sock"),
                "{err}"
            );
        }
    }

    #[test]
    fn recorded_tool_failures() {
        let zfs = Service::Zfs.render(
            "nas",
            b"",
            b"The ZFS modules are not loaded.\n\
              Try running '/sbin/modprobe zfs' as root to load them.\n",
            Some(1),
        );
        assert_eq!(
            zfs.unwrap_err(),
            "nas: zpool failed (exit status 1): The ZFS modules are not loaded. Try running \
             '/sbin/modprobe zfs' as root to load them."
        );
        let denied = Service::Docker.render(
            "nas",
            b"",
            b"permission denied while trying to connect to the Docker daemon socket at \
              unix:///var/run/docker.sock: Get \
              \"http://%2Fvar%2Frun%2Fdocker.sock/v1.45/containers/json?all=1\": \
              dial unix /var/run/docker.sock: connect: permission denied\n",
            Some(1),
        );
        assert!(denied
            .unwrap_err()
            .ends_with("(e.g. membership of the `docker` group)"));
        let stopped = Service::Syslog.render("nas", b"partial", b"", None);
        assert_eq!(
            stopped.unwrap_err(),
            "nas: the command for nas://syslog was stopped before it finished"
        );
        // 127 without our marker: the shell could not run something; not "not installed".
        let sh = Service::Docker.render("nas", b"", b"sh: 1: docker: not found\n", Some(127));
        assert_eq!(
            sh.unwrap_err(),
            "nas: docker failed (exit status 127): sh: 1: docker: not found"
        );
        let empty = Service::ZfsSnapshots.render("nas", b"", b"", Some(2));
        assert_eq!(
            empty.unwrap_err(),
            "nas: zfs failed (exit status 2): no error message"
        );
    }

    // -----------------------------------------------------------------------------------------
    // Rendering corner cases

    #[test]
    fn syslog_fallback_and_notes() {
        let file = Service::Syslog
            .render(
                "nas",
                b"2024-05-30T08:00:01.123456+00:00 nas CRON[1]: (root) CMD (true)\n",
                b"scout-mcp: source: /var/log/syslog\n",
                Some(0),
            )
            .unwrap();
        assert!(file.starts_with("System log of nas (/var/log/syslog), last 1 line:"));
        assert!(!file.contains("scout-mcp"));
        let hint = "Hint: You are currently not seeing messages from other users and the system.";
        let journal = Service::Syslog
            .render(
                "nas",
                b"-- No entries --\n",
                format!("{hint}\n").as_bytes(),
                Some(0),
            )
            .unwrap();
        assert!(journal.ends_with(&format!("-- No entries --\n\n[stderr]\n{hint}\n")));
        let none = Service::Syslog
            .render(
                "nas",
                b"",
                b"scout-mcp: not installed: syslog\n",
                Some(EXIT_NOT_INSTALLED),
            )
            .unwrap();
        assert!(none.starts_with("No system log is readable on nas"));
    }

    #[test]
    fn logs_keep_the_last_100_lines_without_colours() {
        let log: String = (1..=150)
            .map(|i| format!("\u{1b}[32mline {i}\u{1b}[0m\r\n"))
            .collect();
        let text = Service::DockerLogs("web".into())
            .render("nas", log.as_bytes(), b"", Some(0))
            .unwrap();
        assert!(text.starts_with("Logs of container web on nas, last 100 lines:\n\nline 51\n"));
        assert!(text.ends_with("line 150\n"));
        assert!(!text.contains('\u{1b}') && !text.contains('\r'));
    }

    #[test]
    fn empty_lists() {
        let r = |s: Service| s.render("nas", b"", b"", Some(0)).unwrap();
        assert_eq!(r(Service::Docker), "No containers on nas.\n");
        assert_eq!(r(Service::Compose), "No Compose projects on nas.\n");
        assert_eq!(
            Service::Compose
                .render("nas", b"[]\n", b"", Some(0))
                .unwrap(),
            "No Compose projects on nas.\n"
        );
        assert_eq!(
            r(Service::Zfs),
            "ZFS is installed on nas but there are no pools.\n"
        );
        assert_eq!(r(Service::ZfsSnapshots), "No ZFS snapshots on nas.\n");
        assert!(r(Service::ComposeProject("x".into())).contains("no recorded compose files"));
    }

    #[test]
    fn snapshot_list_is_capped() {
        let out: String = (0..250)
            .map(|i| format!("tank@s{i}\t0\t1024\t{}\n", 1_717_027_201 - i * 3600))
            .collect();
        let text = Service::ZfsSnapshots
            .render("nas", out.as_bytes(), b"", Some(0))
            .unwrap();
        assert!(text.starts_with("ZFS snapshots on nas (newest 100 of 250, newest first)"));
        assert_eq!(text.lines().count(), 3 + 100);
    }

    #[test]
    fn unreadable_compose_ls_output_is_shown() {
        let text = Service::Compose
            .render("nas", b"NAME STATUS\n", b"", Some(0))
            .unwrap();
        assert!(text.contains("could not be read") && text.contains("NAME STATUS"));
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(size("0"), "0B");
        assert_eq!(size("1023"), "1023B");
        assert_eq!(size("1024"), "1.00K");
        assert_eq!(size("196608"), "192K");
        assert_eq!(size("23992903221248"), "21.8T");
        assert_eq!(size(&u64::MAX.to_string()), "16.0E");
        assert_eq!(size("-"), "-");
        assert_eq!(timestamp("0"), "1970-01-01 00:00");
        assert_eq!(timestamp("1717027201"), "2024-05-30 00:00");
        assert_eq!(timestamp("951782400"), "2000-02-29 00:00");
        assert_eq!(timestamp("-1"), "1969-12-31 23:59");
        assert_eq!(timestamp("x"), "x");
        // Extremes do not overflow.
        let _ = timestamp(&i64::MAX.to_string());
        let _ = timestamp(&i64::MIN.to_string());
    }

    #[test]
    fn compose_json_fields() {
        let text = r#" [ {"Name":"a\"b\\c\u00e9\ud83d\ude00","n":-1500,"t":true,"x":null,
                          "o":{"k":[]}} ] "#;
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let serde_json::Value::Array(items) = &v else {
            panic!()
        };
        assert_eq!(field(&items[0], "Name").unwrap(), "a\"b\\cé😀");
        assert_eq!(field(&items[0], "n").unwrap(), "-1500");
        assert_eq!(field(&items[0], "t").unwrap(), "true");
        assert_eq!(field(&items[0], "x"), None);
        assert_eq!(field(&items[0], "o"), None);
        for bad in [
            "[",
            "[1,",
            "{\"a\"}",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "\"abc",
            "[1] x",
            "tru",
            "{}",
        ] {
            assert!(parse_projects(bad).is_err(), "{bad}");
        }
        assert!(parse_projects(&"[".repeat(100_000)).is_err());
        assert_eq!(parse_projects("").unwrap(), Vec::<Vec<String>>::new());
    }

    /// Deterministic pseudo-random bytes biased to the characters the parsers care about.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            self.0 >> 33
        }

        fn bytes(&mut self, max: usize) -> Vec<u8> {
            const ALPHABET: &[u8] = b"\t\n\r \x1b\x1e[]{}\",:\\/|-.0123456789aTZ@xu\xc3\xa9\xff";
            let len = (self.next() as usize) % max;
            (0..len)
                .map(|_| {
                    let r = self.next() as usize;
                    if r % 4 == 0 {
                        r as u8
                    } else {
                        ALPHABET[r % ALPHABET.len()]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn no_panics_on_any_input() {
        let mut noise = Noise(42);
        let services = [
            Service::Docker,
            Service::DockerLogs("web".into()),
            Service::Compose,
            Service::ComposeProject("media".into()),
            Service::ComposeLogs("media".into()),
            Service::Zfs,
            Service::ZfsPool("tank".into()),
            Service::ZfsDatasets("tank".into()),
            Service::ZfsSnapshots,
            Service::Syslog,
        ];
        let codes = [
            None,
            Some(0),
            Some(1),
            Some(2),
            Some(66),
            Some(69),
            Some(127),
            Some(-1),
        ];
        for round in 0..3000 {
            let stdout = noise.bytes(400);
            let mut stderr = noise.bytes(80);
            if round % 3 == 0 {
                stderr.extend_from_slice(b"scout-mcp: not installed: ");
                stderr.extend(noise.bytes(10));
            }
            let code = codes[round % codes.len()];
            for service in &services {
                let _ = service.render("h", &stdout, &stderr, code);
            }
            let _ = parse_projects(&String::from_utf8_lossy(&stdout));
            let rest = String::from_utf8_lossy(&noise.bytes(40)).into_owned();
            for prefix in ["", "docker/", "compose/", "zfs/"] {
                if let Some(Ok(service)) = Service::parse(&format!("{prefix}{rest}")) {
                    let _ = service.command();
                }
            }
        }
    }
}
