use std::process::ExitCode;

/// One heap for every thread. glibc's malloc gives each thread that allocates an arena
/// of its own (the main thread, each tokio worker, the blocking thread that reads the
/// rule files), and memory freed in an arena is reused by that arena only: the
/// start-up's garbage and each arena's free chunks stay resident. dlmalloc keeps one
/// heap behind one lock: 3 MB less resident with 2,000 rules (scenario A), 21 MB less
/// with 20,000 (B); CPU per evaluation in A unchanged within the noise, the replay's
/// +2-5 % (docs/benchmarks.md, "Peak RSS in A: one heap, a smaller binary"). The
/// library, its tests and examples keep the system allocator (the memory examples
/// count with dhat's).
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    let parsed = tocsin::flag_sources::parse(std::env::args_os(), &|k| std::env::var(k).ok())
        .unwrap_or_else(|e| tocsin::cli::exit_on_error(e));
    tocsin::app::main(parsed)
}
