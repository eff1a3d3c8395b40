fn main() {
    // Wiring arrives with the loader and the engine; parse flags so -help works today.
    let _ = <tocsin::cli::Cli as clap::Parser>::parse_from(tocsin::cli::normalize_args(
        std::env::args_os(),
    ));
}
