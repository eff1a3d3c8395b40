use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = match tocsin::flag_sources::parse(std::env::args_os(), &|k| std::env::var(k).ok())
    {
        Ok(p) => p,
        Err(e) => e.exit(),
    };
    tocsin::app::main(parsed)
}
