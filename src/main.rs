use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = tocsin::flag_sources::parse(std::env::args_os(), &|k| std::env::var(k).ok())
        .unwrap_or_else(|e| tocsin::cli::exit_on_error(e));
    tocsin::app::main(parsed)
}
