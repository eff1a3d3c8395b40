//! `cargo run --example check_rules -- FILE...`: runs `tocsin check` without the CLI,
//! for the loader benchmark script and for trying rule files by hand.
//! Flags: `-rule.validateExpressions=false`, `-rule.validateTemplates=false`,
//! `--lint=none`, `--lint-fatal`.

fn main() {
    let mut opts = tocsin::check::CheckOptions::default();
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        match a.trim_start_matches('-') {
            "rule.validateExpressions=false" => opts.load.validate_expressions = false,
            "rule.validateTemplates=false" => opts.load.validate_templates = false,
            "lint=none" => opts.lint_duplicates = false,
            "lint-fatal" => opts.lint_fatal = true,
            _ => files.push(a),
        }
    }
    let out = tocsin::check::check_rules(&files, &opts);
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    std::process::exit(out.exit_code);
}
