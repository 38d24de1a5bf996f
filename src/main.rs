//! The `scout-mcp` binary: everything lives in the library; see `src/cli.rs`.

fn main() {
    std::process::exit(scout_mcp::__private::run(std::env::args_os()));
}
