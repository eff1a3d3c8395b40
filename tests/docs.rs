//! docs/configuration.md must list exactly the flags the parser knows.

use tocsin::flags_doc::{BEGIN, END, flags_markdown};

#[test]
fn configuration_md_lists_every_flag() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let doc = std::fs::read_to_string(path).expect("docs/configuration.md is readable");
    let (head, rest) = doc
        .split_once(BEGIN)
        .expect("docs/configuration.md has the BEGIN marker");
    let (_, tail) = rest
        .split_once(END)
        .expect("docs/configuration.md has the END marker");
    let want = format!("{head}{BEGIN}\n{}{END}{tail}", flags_markdown());
    if std::env::var_os("TOCSIN_REGEN_DOCS").is_some() {
        std::fs::write(path, &want).expect("write docs/configuration.md");
        return;
    }
    assert!(
        doc == want,
        "docs/configuration.md is out of date with src/cli.rs; run `TOCSIN_REGEN_DOCS=1 cargo test --test docs`"
    );
}

#[test]
fn architecture_md_lists_every_module() {
    let root = env!("CARGO_MANIFEST_DIR");
    let lib = std::fs::read_to_string(format!("{root}/src/lib.rs")).expect("src/lib.rs");
    let doc = std::fs::read_to_string(format!("{root}/docs/architecture.md"))
        .expect("docs/architecture.md is readable");
    let (_, map) = doc
        .split_once("## Modules")
        .expect("docs/architecture.md has a Modules section");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    assert!(modules.len() > 10, "modules found: {modules:?}");
    let missing: Vec<&&str> = modules
        .iter()
        .filter(|m| {
            !map.contains(&format!("`src/{m}.rs`")) && !map.contains(&format!("`src/{m}/`"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md's module map lacks {missing:?} (as `src/NAME.rs` or `src/NAME/`)"
    );
}
