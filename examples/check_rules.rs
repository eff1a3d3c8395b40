//! `cargo run --example check_rules -- FILE...`: runs `tocsin check` without the CLI,
//! for the loader benchmark script and for trying rule files by hand.
//! Flags: `-rule.validateExpressions=false`, `-rule.validateTemplates=false`.

fn main() {
    let mut opts = tocsin::config::LoadOptions::default();
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        match a.trim_start_matches('-') {
            "rule.validateExpressions=false" => opts.validate_expressions = false,
            "rule.validateTemplates=false" => opts.validate_templates = false,
            _ => files.push(a),
        }
    }
    let out = tocsin::check::check_rules(&files, &opts, true);
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    std::process::exit(out.exit_code);
}
