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
    for host in scout.aliases() {
        match scout.read(&host, &path) {
            Ok(file) => println!("{host}: {}", file.text().unwrap_or("(binary)").trim_end()),
            Err(e) => println!("{host}: error: {e}"),
        }
    }
}
