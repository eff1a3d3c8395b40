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
