//! Reads one file on every host and prints what each one said.
//!
//! `cargo run --example read_all_hosts -- [PATH]` (default `/etc/hostname`), configured by the
//! `SCOUT_*` environment like the server. Against throwaway local hosts:
//! `scripts/with-fleet cargo run --example read_all_hosts`.

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/etc/hostname".into());
    let scout = scout_mcp::Scout::from_env().unwrap_or_else(|e| {
        eprintln!("{e}"); // a configuration error says what to fix
        std::process::exit(2)
    });
    let control = scout_mcp::Control::new();
    for host in scout.aliases() {
        let read =
            scout_mcp::RemotePath::new(&host, &path).and_then(|at| scout.read(&at, &control));
        match read {
            Ok(file) => println!("{host}: {}", file.text().unwrap_or("(binary)").trim_end()),
            Err(e) => println!("{host}: error: {e}"),
        }
    }
}
