//! The `scout-mcp` binary: everything lives in the library; see `scout_mcp::cli`.

fn main() {
    std::process::exit(scout_mcp::cli::run(std::env::args_os()));
}
