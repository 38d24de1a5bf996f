//! Differential test: `SshConfig::resolve` against `ssh -G ALIAS -F FILE` (OpenSSH 9.2).
//!
//! Every case gets its own temporary home directory; the `ssh` child runs with `HOME` pointed at
//! it so that relative and `~/` `Include`s resolve there, and `ParseContext::home` is the same
//! directory. Two things `ssh -G` does differently need mapping, both documented in the module:
//!
//! * `ssh` expands `~` and `%d` in `UserKnownHostsFile` / `IdentityAgent` with the home from the
//!   password database, not `$HOME`. That home is learnt from `ssh -G -F none` and replaced by the
//!   temporary home in `ssh`'s output before comparing.
//! * `ssh -G` prints `IdentityFile` values raw (it expands them only when connecting), so the test
//!   expands `~` and `%d %u %h %r %p %n %%` itself, using the hostname, user and port that `ssh`
//!   printed; this checks which files apply, their order and de-duplication, and the token values.
//!
//! Mapping of `ssh -G` output to `HostEntry`:
//!
//! | ssh -G key              | printed when unset                | HostEntry                       |
//! |-------------------------|-----------------------------------|---------------------------------|
//! | `identityfile`          | `~/.ssh/id_rsa` … `~/.ssh/id_dsa` | empty `identity_files`          |
//! | `userknownhostsfile`    | `~/.ssh/known_hosts{,2}`          | empty `user_known_hosts_files`  |
//! | `connecttimeout`        | `none`                            | `None`                          |
//! | `serveraliveinterval`   | `0`                               | `None` (or `Some(0)`)           |
//! | `serveralivecountmax`   | `3`                               | `None`                          |
//! | `proxyjump`             | (absent; also for `none`)         | `None`                          |
//! | `identityagent`         | (absent)                          | `None`                          |
//! | `identitiesonly`        | `no`                              | `false`                         |
//! | `stricthostkeychecking` | `ask`                             | `None`                          |
//!
//! `stricthostkeychecking` is normalised by ssh: `yes`/`true` print `true`, `no`/`false`/`off`
//! print `false`, `ask` prints `ask`, `accept-new` prints `accept-new`.

use scout_mcp::__private::{HostEntry, ParseContext, SshConfig};
use scout_mcp::StrictHostKeyChecking;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `{HOME}` in configs and file contents is replaced by the case's temporary home.
struct Case {
    name: &'static str,
    config: &'static str,
    /// Extra files, relative to the temporary home.
    files: Files,
    /// Aliases to resolve besides every `SshConfig::aliases()`.
    probes: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "basic block",
        config: "Host web\n  HostName web.example.com\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/web_key\n",
        files: &[],
        probes: &["other"],
    },
    Case {
        name: "first value wins across blocks",
        config: "Host web\n Port 1\n User first\nHost web\n Port 2\n User second\n HostName late\nHost w*\n HostName wild\n",
        files: &[],
        probes: &["wx"],
    },
    Case {
        name: "defaults after Host *",
        config: "Host a\n Port 10\nHost b\n User bee\nHost *\n Port 99\n User star\n ConnectTimeout 7\n",
        files: &[],
        probes: &["c"],
    },
    Case {
        name: "Host * first overrides later blocks",
        config: "Host *\n User star\nHost a\n User a\n Port 5\n",
        files: &[],
        probes: &["z"],
    },
    Case {
        name: "lines before first Host apply to all",
        config: "Port 7\nUser global\nHost a\n Port 8\n User a\n HostName ha\n",
        files: &[],
        probes: &["q"],
    },
    Case {
        name: "negation",
        config: "Host *.prod !db.prod\n User produser\nHost db.prod\n Port 5432\n",
        files: &[],
        probes: &["web.prod", "db.prod", "prod", "x.dev"],
    },
    Case {
        name: "negation first on the line",
        config: "Host !bastion *\n ProxyJump bastion\nHost bastion\n HostName 10.0.0.1\n",
        files: &[],
        probes: &["app", "bastion"],
    },
    Case {
        name: "only negated patterns never match",
        config: "Host !a\n Port 1\nHost b\n Port 2\n",
        files: &[],
        probes: &["a", "c"],
    },
    Case {
        name: "question mark and star",
        config: "Host db? web-*-eu\n User pat\nHost db10\n Port 10\n",
        files: &[],
        probes: &["db1", "dbx", "db", "web-1-eu", "web--eu", "web-1-us"],
    },
    Case {
        name: "several concrete patterns on one line",
        config: "Host one two three\n Port 123\nHost two\n User second\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "pattern matching is case-sensitive",
        config: "Host Web\n Port 1\nHost *.EXAMPLE.com\n User upper\n",
        files: &[],
        probes: &["web", "WEB", "a.example.com", "a.EXAMPLE.com"],
    },
    Case {
        name: "HostName with %h is lowercased",
        config: "Host Srv *.lan\n HostName %h.Example.COM\nHost lit\n HostName MixedCase.Host\n",
        files: &[],
        probes: &["Box.lan"],
    },
    Case {
        name: "HostName with %%",
        config: "Host a\n HostName x%%y-%h\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "IdentityFile accumulates and de-duplicates",
        config: "Host a\n IdentityFile ~/.ssh/k1\n IdentityFile ~/.ssh/k2\n IdentityFile ~/.ssh/k1\nHost *\n IdentityFile ~/.ssh/k3\n IdentityFile ~/.ssh/k2\n",
        files: &[],
        probes: &["b"],
    },
    Case {
        name: "IdentityFile tokens",
        config: "Host Tok\n HostName Real.Example\n User bob\n Port 2200\n IdentityFile ~/.ssh/%h_%r_%p_%n_%u\n IdentityFile %d/keys/%%lit\n IdentityFile /abs/%n\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "IdentityFile tilde forms and quoted spaces",
        config: "Host a\n IdentityFile ~\n IdentityFile ~key\n IdentityFile \"~/my keys/id\"\n IdentityFile 'single quoted'\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "UserKnownHostsFile several per line, first line wins",
        config: "Host a\n UserKnownHostsFile ~/kh1 %d/kh2 /etc/kh_%h_%r_%p_%n\n UserKnownHostsFile /never\nHost *\n UserKnownHostsFile /star\n",
        files: &[],
        probes: &["b"],
    },
    Case {
        name: "UserKnownHostsFile none",
        config: "Host a\n UserKnownHostsFile none\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "quoted values and escapes",
        config: "Host a\n User \"john doe\"\n HostName h\"ost na\"me\nHost b\n User a\\ b\n HostName \"x\\\"y\"\nHost \"c\"\n Port \"44\"\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "equals syntax",
        config: "Host=a\n Port=1\n User = eq\n HostName =h1\nHost b\n Port= 2\n HostName\t=\th2\nHost c\n \"HostName\"=quirk\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "case-insensitive keywords",
        config: "HOST a\n hostname H\n PORT 3\n uSeR U\n identityFILE ~/k\n PROXYJUMP j\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "comments, blank lines, whitespace, CRLF",
        config: "# top comment\r\n\r\n   Host a   # trailing\r\n\tPort 9 # port\r\n\t\tUser   spaced   \r\n#Host b\r\n",
        files: &[],
        probes: &["b"],
    },
    Case {
        name: "ProxyJump none blocks later values",
        config: "Host internal\n ProxyJump none\nHost via\n ProxyJump jump@bastion:2222,other\nHost *\n ProxyJump bastion\n",
        files: &[],
        probes: &["plain"],
    },
    Case {
        name: "ConnectTimeout none does not block, units",
        config: "Host a\n ConnectTimeout none\nHost b\n ConnectTimeout 1m30s\nHost *\n ConnectTimeout 12\n",
        files: &[],
        probes: &["c"],
    },
    Case {
        name: "StrictHostKeyChecking values",
        config: "Host y\n StrictHostKeyChecking yes\nHost n\n StrictHostKeyChecking no\nHost o\n StrictHostKeyChecking off\nHost k\n StrictHostKeyChecking ask\nHost an\n StrictHostKeyChecking Accept-New\nHost t\n StrictHostKeyChecking TRUE\nHost f\n StrictHostKeyChecking false\n",
        files: &[],
        probes: &["unset"],
    },
    Case {
        name: "IdentitiesOnly, ServerAlive*, IdentityAgent",
        config: "Host a\n IdentitiesOnly yes\n ServerAliveInterval 15\n ServerAliveCountMax 5\n IdentityAgent ~/agent-%h.sock\nHost b\n IdentitiesOnly no\n IdentityAgent none\n ServerAliveInterval 0\nHost c\n IdentityAgent SSH_AUTH_SOCK\n IdentitiesOnly true\n",
        files: &[],
        probes: &["d"],
    },
    Case {
        name: "Match blocks that do not match are skipped",
        config: "Host a\n Port 1\nMatch host nothing-matches-this\n Port 2\n User matched\nHost *\n User star\nMatch user no-such-user-xyz\n HostName nope\n",
        files: &[],
        probes: &["b"],
    },
    Case {
        name: "ssh options we ignore",
        config: "IgnoreUnknown FancyOption\nFancyOption on\nHost a\n ForwardAgent yes\n Compression yes\n LocalForward 8080 localhost:80\n Port 4\n",
        files: &[],
        probes: &[],
    },
    Case {
        name: "Include inside Host is scoped",
        config: "Host x\n Include {HOME}/inc/x.conf\n User after\nHost *\n Port 5\n",
        files: &[("inc/x.conf", "Port 100\nHost y\n Port 101\nHost *\n User included\n")],
        probes: &["z"],
    },
    Case {
        name: "Include state restored after included Host lines",
        config: "Host x\n Include other.conf\n Port 7\n",
        files: &[(".ssh/other.conf", "Host elsewhere\n User e\n")],
        probes: &[],
    },
    Case {
        name: "relative Include resolves in ~/.ssh",
        config: "Include config.d/base\nHost *\n User fallback\n",
        files: &[(".ssh/config.d/base", "Host rel\n HostName rel.example\n Port 2022\n")],
        probes: &[],
    },
    Case {
        name: "Include glob sorted, hidden skipped, missing ignored",
        config: "Include conf.d/*.conf does-not-exist ~/.ssh/more/?.cfg\n",
        files: &[
            (".ssh/conf.d/20-b.conf", "Host b\n Port 20\nHost *\n User from-b\n"),
            (".ssh/conf.d/10-a.conf", "Host a\n Port 10\nHost *\n IdentityFile ~/.ssh/a-key\n"),
            (".ssh/conf.d/.hidden.conf", "Host *\n Port 999\n"),
            (".ssh/conf.d/notes.txt", "Host *\n Port 998\n"),
            (".ssh/more/m.cfg", "Host m\n Port 30\n"),
        ],
        probes: &["zz"],
    },
    Case {
        name: "nested relative includes",
        config: "Host *\n Include level1\n",
        files: &[
            (".ssh/level1", "Include level2\nHost deep\n User d1\n"),
            (".ssh/level2", "Host deep\n Port 2\nHost other\n Port 3\n"),
        ],
        probes: &["x"],
    },
    Case {
        name: "Include in a block that does not apply applies nowhere",
        config: "Host never\n Include star.conf\nHost x\n Port 8\n",
        files: &[(".ssh/star.conf", "User leaked\nHost *\n Port 77\n")],
        probes: &["y"],
    },
    Case {
        name: "Include with several paths in order",
        config: "Include {HOME}/two {HOME}/one\n",
        files: &[
            ("one", "Host h\n Port 1\n IdentityFile ~/one\n"),
            ("two", "Host h\n Port 2\n IdentityFile ~/two\n"),
        ],
        probes: &[],
    },
];

/// Configs both must refuse. Files are written as for `CASES`.
/// Extra files of a case: (path relative to the home, contents).
type Files = &'static [(&'static str, &'static str)];

const BAD: &[(&str, &str, Files)] = &[
    ("Port abc", "Host a\n Port abc\n", &[]),
    ("Port 70000", "Host a\n Port 70000\n", &[]),
    ("Port 0", "Host a\n Port 0\n", &[]),
    ("Port with two values", "Host a\n Port 22 23\n", &[]),
    ("unbalanced quote", "Host a\n User \"bob\n", &[]),
    ("empty Host", "Host\n", &[]),
    (
        "bad StrictHostKeyChecking",
        "StrictHostKeyChecking maybe\n",
        &[],
    ),
    ("bad ConnectTimeout", "ConnectTimeout 5x\n", &[]),
    ("bad IdentitiesOnly", "IdentitiesOnly sometimes\n", &[]),
    ("IdentityFile two words", "IdentityFile a b\n", &[]),
    ("none not alone", "UserKnownHostsFile /a none\n", &[]),
    (
        "Include loop",
        "Include loop\n",
        &[(".ssh/loop", "Include loop\n")],
    ),
];

fn ssh_missing_message() -> String {
    "`ssh` (OpenSSH client) is required for this test but was not found: install openssh-client \
     (e.g. `apt-get install openssh-client`)"
        .to_string()
}

/// A temporary home, removed on drop.
struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("scout-sshcfg-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join(".ssh")).expect("create temp home");
        Home(dir)
    }

    fn text(&self, template: &str) -> String {
        template.replace("{HOME}", &self.0.to_string_lossy())
    }

    fn write(&self, rel: &str, template: &str) -> PathBuf {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
        fs::write(&path, self.text(template)).expect("write");
        // OpenSSH refuses included files writable by others, whatever the umask.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        path
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `ssh -G`; `Err` carries stderr when ssh refuses the config.
fn ssh_g(alias: &str, config: &Path, home: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let out = Command::new("ssh")
        .arg("-G")
        .arg(alias)
        .arg("-F")
        .arg(config)
        .env("HOME", home)
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{}", ssh_missing_message()),
        Err(e) => panic!("cannot run ssh: {e}"),
    };
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        map.entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
    Ok(map)
}

fn one<'a>(map: &'a BTreeMap<String, Vec<String>>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(|v| v.first()).map(String::as_str)
}

/// The local user and the password-database home, as ssh sees them.
struct Local {
    user: String,
    pw_home: String,
}

fn local_identity() -> Local {
    let home = Home::new();
    let map = ssh_g("probe", Path::new("none"), &home.0)
        .unwrap_or_else(|e| panic!("`ssh -G probe -F none` failed: {e}"));
    let user = one(&map, "user").expect("ssh -G prints user").to_string();
    let known = one(&map, "userknownhostsfile").expect("ssh -G prints userknownhostsfile");
    let first = known.split(' ').next().unwrap_or_default();
    let pw_home = first
        .strip_suffix("/.ssh/known_hosts")
        .unwrap_or_else(|| panic!("unexpected default userknownhostsfile {known}"))
        .to_string();
    Local { user, pw_home }
}

const DEFAULT_IDENTITIES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

/// What `ssh` would do with a raw IdentityFile when connecting (see the module doc).
fn expand_identity(
    raw: &str,
    home: &str,
    user: &str,
    ssh: &BTreeMap<String, Vec<String>>,
    alias: &str,
) -> String {
    let tilde = match raw.strip_prefix('~') {
        Some(rest) => format!("{home}/{}", rest.strip_prefix('/').unwrap_or(rest)),
        None => raw.to_string(),
    };
    let mut out = String::new();
    let mut chars = tilde.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(home),
            Some('u') => out.push_str(user),
            Some('h') => out.push_str(one(ssh, "hostname").unwrap_or_default()),
            Some('r') => out.push_str(one(ssh, "user").unwrap_or_default()),
            Some('p') => out.push_str(one(ssh, "port").unwrap_or_default()),
            Some('n') => out.push_str(alias),
            Some('%') => out.push('%'),
            other => panic!("test config uses a token the test cannot expand: %{other:?}"),
        }
    }
    out
}

/// What a host key check does with an unknown key, from what `ssh -G` prints: `ask` (also
/// printed when unset) and `true` both refuse here (there is nobody to ask).
fn strict_from_ssh(printed: &str) -> &str {
    match printed {
        "ask" | "true" => "refuse",
        "false" => "accept",
        "accept-new" => "accept-new",
        other => other,
    }
}

/// The same, from the parsed value (unset: refuse, the default).
fn strict_from_ours(value: Option<StrictHostKeyChecking>) -> &'static str {
    match value {
        None | Some(StrictHostKeyChecking::Yes) => "refuse",
        Some(StrictHostKeyChecking::No) => "accept",
        Some(StrictHostKeyChecking::AcceptNew) => "accept-new",
    }
}

fn paths_joined(paths: &[PathBuf]) -> String {
    let parts: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    parts.join(" ")
}

/// Every difference between ssh's answer and ours, as readable lines.
fn compare(
    alias: &str,
    ours: &HostEntry,
    ssh: &BTreeMap<String, Vec<String>>,
    home: &str,
    local: &Local,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |field: &str, want: String, got: String| {
        if want != got {
            diffs.push(format!(
                "{alias}: {field}: ssh -G says {want:?}, we say {got:?}"
            ));
        }
    };
    let ssh_one = |key: &str| one(ssh, key).unwrap_or_default().to_string();
    // ssh expands ~ and %d with the passwd home; the test's home stands in for it.
    let rehome = |v: String| v.replace(&local.pw_home, home);

    check("hostname", ssh_one("hostname"), ours.hostname.clone());
    check("user", ssh_one("user"), ours.user.clone());
    check("port", ssh_one("port"), ours.port.to_string());

    let ssh_ids = ssh.get("identityfile").cloned().unwrap_or_default();
    let ours_ids: Vec<String> = ours
        .identity_files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if ours_ids.is_empty() {
        check(
            "identityfile (defaults)",
            DEFAULT_IDENTITIES.join(" "),
            ssh_ids.join(" "),
        );
    } else {
        let want: Vec<String> = ssh_ids
            .iter()
            .map(|raw| expand_identity(raw, home, &local.user, ssh, alias))
            .collect();
        check("identityfile", want.join(" "), ours_ids.join(" "));
    }

    let proxy = ssh.get("proxyjump").map(|_| ssh_one("proxyjump"));
    check(
        "proxyjump",
        format!("{proxy:?}"),
        format!(
            "{:?}",
            ours.proxy_jump.as_ref().map(|j| j.as_str().to_string())
        ),
    );
    let timeout = ours
        .connect_timeout
        .map_or("none".to_string(), |t| t.to_string());
    check("connecttimeout", ssh_one("connecttimeout"), timeout);
    check(
        "stricthostkeychecking",
        strict_from_ssh(&ssh_one("stricthostkeychecking")).to_string(),
        strict_from_ours(ours.strict_host_key_checking).to_string(),
    );

    let known = if ours.user_known_hosts_files.is_empty() {
        format!("{home}/.ssh/known_hosts {home}/.ssh/known_hosts2")
    } else {
        paths_joined(&ours.user_known_hosts_files)
    };
    check(
        "userknownhostsfile",
        rehome(ssh_one("userknownhostsfile")),
        known,
    );

    let agent = ssh
        .get("identityagent")
        .map(|_| rehome(ssh_one("identityagent")));
    check(
        "identityagent",
        format!("{agent:?}"),
        format!("{:?}", ours.identity_agent),
    );
    let only = if ours.identities_only { "yes" } else { "no" };
    check(
        "identitiesonly",
        ssh_one("identitiesonly"),
        only.to_string(),
    );
    let interval = ours.server_alive_interval.unwrap_or(0).to_string();
    check(
        "serveraliveinterval",
        ssh_one("serveraliveinterval"),
        interval,
    );
    let count = ours.server_alive_count_max.unwrap_or(3).to_string();
    check("serveralivecountmax", ssh_one("serveralivecountmax"), count);
    diffs
}

fn run_case(case: &Case, local: &Local) -> (usize, Vec<String>) {
    let home = Home::new();
    for (rel, text) in case.files {
        home.write(rel, text);
    }
    let config = home.write("config-under-test", case.config);
    let ctx = ParseContext {
        home: home.0.clone(),
        local_user: local.user.clone(),
    };
    let parsed = match SshConfig::load(&config, &ctx) {
        Ok(c) => c,
        Err(e) => {
            return (
                0,
                vec![format!("[{}] we refused the config: {e}", case.name)],
            )
        }
    };
    let mut aliases = parsed.aliases();
    aliases.extend(case.probes.iter().map(|p| p.to_string()));
    let home_text = home.0.to_string_lossy().into_owned();
    let mut diffs = Vec::new();
    for alias in &aliases {
        match ssh_g(alias, &config, &home.0) {
            Ok(ssh) => diffs.extend(compare(
                alias,
                &parsed.resolve(alias),
                &ssh,
                &home_text,
                local,
            )),
            Err(e) => diffs.push(format!("{alias}: ssh -G refused the config: {e}")),
        }
    }
    let diffs = diffs
        .into_iter()
        .map(|d| format!("[{}] {d}", case.name))
        .collect();
    (aliases.len(), diffs)
}

#[test]
fn resolve_matches_ssh_dash_g() {
    let local = local_identity();
    assert!(CASES.len() >= 25);
    let mut diffs = Vec::new();
    let mut resolved = 0;
    for case in CASES {
        let (count, found) = run_case(case, &local);
        resolved += count;
        diffs.extend(found);
    }
    eprintln!(
        "compared {resolved} aliases over {} configs against ssh -G",
        CASES.len()
    );
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn both_refuse_bad_configs() {
    let mut problems = Vec::new();
    for (name, config, files) in BAD {
        let home = Home::new();
        for (rel, text) in *files {
            home.write(rel, text);
        }
        let path = home.write(".ssh/bad-config", config);
        let ctx = ParseContext {
            home: home.0.clone(),
            local_user: "someone".into(),
        };
        if ssh_g("a", &path, &home.0).is_ok() {
            problems.push(format!("[{name}] ssh -G accepted it; the case is wrong"));
        }
        if let Ok(c) = SshConfig::load(&path, &ctx) {
            problems.push(format!("[{name}] we accepted it: {:?}", c.resolve("a")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn ssh_is_installed() {
    match Command::new("ssh").arg("-V").stdin(Stdio::null()).output() {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{}", ssh_missing_message()),
        Err(e) => panic!("cannot run ssh -V: {e}"),
    }
}
