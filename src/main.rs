use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <tocsin::cli::Cli as clap::Parser>::parse_from(tocsin::cli::normalize_args(
        std::env::args_os(),
    ));
    tocsin::app::main(cli)
}
