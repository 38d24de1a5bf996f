//! Property tests over generated input (issue 5): the JSON-RPC layer (the whole stdio server),
//! the target parser, the remote path checks and shell quoting, the command policy and the
//! ssh_config parser never panic, and the server answers every line with JSON only.
//!
//! The generator is a seeded xorshift, so a failure is reproducible: the panic message carries
//! the seed and case. `SCOUT_PROPTEST_CASES` (default 300) and `SCOUT_PROPTEST_SEED` change the
//! run. No property-testing crate is needed for this (see docs/DEPENDENCIES.md).

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};

use scout_mcp::__private::remote_path;
use scout_mcp::__private::Target;
use scout_mcp::__private::{ParseContext, SshConfig};
use scout_mcp::{CommandPolicy, PolicyMode};
use scout_mcp::{RemotePath, Scout, Settings};
use serde_json::{json, Value};

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A string of up to `max` pieces, each a hostile character, a word or a random char.
    fn text(&mut self, max: usize, words: &[&str]) -> String {
        const NASTY: &[&str] = &[
            "$", "(", ")", "`", ";", "|", "&", "&&", "\n", "\0", "'", "\"", "\\", "~", "*", "?",
            "[", "]", "{", "}", "%", "=", "#", " ", "\t", "..", "/", ":", "-", "--", "é", "中",
            "\u{202e}", "\u{feff}", "$(id)", "${IFS}", "\r\n",
        ];
        let n = self.below(max + 1);
        let mut s = String::new();
        for _ in 0..n {
            match self.below(3) {
                0 => s.push_str(self.pick(NASTY).as_ref()),
                1 if !words.is_empty() => s.push_str(self.pick(words).as_ref()),
                _ => s.push(char::from_u32(self.below(0x800) as u32).unwrap_or('x')),
            }
        }
        s
    }
    fn json(&mut self, depth: usize) -> Value {
        match self.below(if depth > 4 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.below(3) == 0),
            2 => json!(self.next() as i64),
            3 => json!(f64::from(self.below(1000) as u32) / 7.0),
            4 => json!(self.text(12, &["ping", "tools/call", "scout", "hosts", "a:/"])),
            5 => Value::Array((0..self.below(4)).map(|_| self.json(depth + 1)).collect()),
            _ => {
                let mut m = serde_json::Map::new();
                for _ in 0..self.below(5) {
                    let key = self
                        .pick(&[
                            "jsonrpc",
                            "id",
                            "method",
                            "params",
                            "name",
                            "arguments",
                            "target",
                        ])
                        .to_string();
                    m.insert(key, self.json(depth + 1));
                }
                Value::Object(m)
            }
        }
    }
}

fn cases() -> usize {
    std::env::var("SCOUT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    std::env::var("SCOUT_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5c0u64 << 32 | 0x7e57)
}

/// Runs `property` on `cases()` generated cases; a panic names the seed and the case.
fn check(name: &str, mut property: impl FnMut(&mut Gen)) {
    let seed = seed();
    let mut gen = Gen(seed);
    for case in 0..cases() {
        if catch_unwind(AssertUnwindSafe(|| property(&mut gen))).is_err() {
            panic!("{name}: case {case} failed (SCOUT_PROPTEST_SEED={seed})");
        }
    }
}

#[test]
fn target_parsing_and_path_checks_never_panic_and_agree() {
    check("target", |g| {
        let text = g.text(12, &["hosts", "web1", ":", "/etc/", "~/", "../"]);
        match Target::parse(&text) {
            Ok(Target::Path(at)) => {
                let (host, path) = (at.host(), at.path());
                assert!(!host.is_empty() && !path.is_empty());
                assert!(remote_path::validate(path).is_ok());
                assert!(!path.contains('\0'));
                // Whatever parses also builds, and prints back to what parses the same.
                assert_eq!(RemotePath::new(host, path).ok().as_ref(), Some(&at));
                assert_eq!(at.to_string().parse::<RemotePath>().ok(), Some(at.clone()));
            }
            Ok(Target::Hosts) => assert!(text.trim().eq_ignore_ascii_case("hosts")),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    });
}

/// The quoting that puts paths into shell commands gives the shell back exactly the path.
#[test]
fn shell_words_reach_the_shell_unchanged() {
    let mut gen = Gen(seed());
    let paths: Vec<String> = (0..cases().min(200))
        .map(|_| g_path(&mut gen))
        .filter(|p| !p.starts_with('~') && !p.starts_with('-') && !p.contains('\0'))
        .collect();
    let mut script = String::new();
    for p in &paths {
        script.push_str(&format!("printf '%s\\0' {}\n", remote_path::shell_word(p)));
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
    for (i, p) in paths.iter().enumerate() {
        assert_eq!(got[i], p.as_bytes(), "path {p:?} came back changed");
    }
}

fn g_path(g: &mut Gen) -> String {
    let p = g.text(10, &["etc", "var", "log", "a b", "x'y"]);
    if p.is_empty() {
        "x".into()
    } else {
        p
    }
}

#[test]
fn the_command_policy_never_panics_and_allowlist_output_has_no_live_metacharacters() {
    let allow = CommandPolicy {
        mode: PolicyMode::Allowlist,
        ..CommandPolicy::default()
    };
    check("policy", |g| {
        let query = g.text(
            14,
            &["cat", "grep", "find", "sort", "-exec", "-o", "x", "'a b'"],
        );
        if let Ok(built) = allow.build(&query) {
            // Every word the allowlist emits is quoted: nothing outside quotes but spaces,
            // and the words themselves plain.
            let mut in_quote = false;
            for c in built.chars() {
                if c == '\'' {
                    in_quote = !in_quote;
                } else if !in_quote {
                    assert!(
                        c.is_ascii_alphanumeric() || " -_./\\=,+@%:".contains(c),
                        "unquoted {c:?} in {built:?} (from {query:?})"
                    );
                }
            }
        }
    });
}

#[test]
fn the_ssh_config_parser_never_panics() {
    let ctx = ParseContext {
        home: "/home/me".into(),
        local_user: "me".into(),
    };
    const WORDS: &[&str] = &[
        "Host ",
        "Match ",
        "Include ",
        "HostName ",
        "User ",
        "Port ",
        "IdentityFile ",
        "ProxyJump ",
        "ConnectTimeout ",
        "StrictHostKeyChecking ",
        "UserKnownHostsFile ",
        "IdentityAgent ",
        "=",
        "\n",
        "%h",
        "%d",
        "%%",
        "${HOME}",
        "!",
        "*",
        "\"",
        "none",
        "22",
        "web",
        "~/",
        "/nonexistent/*",
    ];
    check("ssh_config", |g| {
        let text = g.text(40, WORDS);
        if let Ok(config) = SshConfig::parse_str(&text, Path::new("fuzz"), &ctx) {
            for alias in config.aliases().iter().take(5) {
                let entry = config.resolve(alias);
                assert!(!entry.hostname.is_empty() || alias.is_empty());
            }
            let _ = config.resolve(&g.text(4, &["web"]));
        }
    });
}

/// The whole server over in-memory stdio: any sequence of lines gets only JSON lines back,
/// and `serve` ends cleanly at EOF.
#[test]
fn the_server_answers_any_input_with_json_lines_only() {
    let dir = std::env::temp_dir().join(format!("scout-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ssh_config");
    std::fs::write(&config, "Host web\n  HostName 127.0.0.1\n  Port 1\n").unwrap();
    let settings = Settings::from_lookup(
        |k| match k {
            "SCOUT_SSH_CONFIG" => Some(config.display().to_string()),
            "SCOUT_CONNECT_TIMEOUT" => Some("1".into()),
            "SCOUT_WORKERS" => Some("2".into()),
            _ => None,
        },
        &Default::default(),
    )
    .unwrap();
    let scout = Arc::new(Scout::new(settings).unwrap());
    let mut gen = Gen(seed());
    let rounds = (cases() / 10).max(5);
    for round in 0..rounds {
        let mut input = Vec::new();
        input.extend_from_slice(
            br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"p","version":"0"}}}"#,
        );
        input.push(b'\n');
        for _ in 0..20 {
            match gen.below(4) {
                0 => input
                    .extend_from_slice(gen.text(30, &["{", "}", "\"id\":", "[", "]"]).as_bytes()),
                1 => input.extend(
                    (0..gen.below(40))
                        .map(|_| gen.next() as u8)
                        .filter(|b| *b != b'\n'),
                ),
                _ => {
                    let mut msg = gen.json(0);
                    if gen.below(2) == 0 {
                        msg = json!({"jsonrpc": "2.0", "id": gen.below(50), "method":
                            *gen.pick(&["tools/call", "ping", "resources/read", "completion/complete", "initialize", "tools/list", "server/discover"]),
                            "params": {"name": "scout", "arguments": gen.json(1), "uri": gen.text(6, &["scout://web/", "hosts://list"])}});
                        // Half of them in the stateless era: a valid envelope, or a mangled one.
                        match gen.below(4) {
                            0 => {
                                msg["params"]["_meta"] = json!({
                                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                "io.modelcontextprotocol/clientCapabilities": {}})
                            }
                            1 => {
                                msg["params"]["_meta"] = json!({
                                "io.modelcontextprotocol/protocolVersion": gen.json(1),
                                "io.modelcontextprotocol/clientCapabilities": gen.json(1),
                                "io.modelcontextprotocol/logLevel": gen.json(1)})
                            }
                            _ => {}
                        }
                    }
                    input.extend_from_slice(msg.to_string().as_bytes());
                }
            }
            input.push(b'\n');
        }
        let output = SharedBuf::default();
        let (_tx, rx) = crossbeam_channel::bounded(1);
        let served = scout_mcp::__private::serve(
            scout.clone(),
            std::io::Cursor::new(input.clone()),
            output.clone(),
            rx,
        );
        assert!(served.is_ok(), "round {round}: {served:?}");
        let bytes = output.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).expect("stdout is UTF-8");
        let answered = text.lines().count();
        assert!(
            answered >= 2,
            "round {round}: only {answered} lines answered: {text}"
        );
        assert!(
            text.starts_with(r#"{"id":0,"#) || text.contains(r#""id":0,"jsonrpc":"2.0","result""#),
            "{text}"
        );
        for line in text.lines() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("round {round}: not JSON ({e}): {line}"));
            assert!(value.is_object() || value.is_array(), "{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
