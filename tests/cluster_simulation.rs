//! Rendezvous assignment without processes: 100,000 groups over 10 and 100 members, the
//! load per member and the groups that move when one member joins or leaves. The table in
//! docs/operations.md is this test's output (`TOCSIN_REGEN_DOCS=1` rewrites it).

use tocsin::cluster::simulate::{Simulation, markdown, simulate};

const BEGIN: &str = "<!-- BEGIN simulation (tests/cluster_simulation.rs) -->\n";
const END: &str = "<!-- END simulation -->";

fn runs() -> Vec<Simulation> {
    let mut out = Vec::new();
    for members in [10, 100] {
        for r in [1, 2] {
            out.push(simulate(100_000, members, r));
        }
    }
    out
}

#[test]
fn load_is_even_and_changes_move_little_and_operations_md_shows_it() {
    let rows = runs();
    for s in &rows {
        // Binomial spread: ~3% at 10,000 groups a member, ~10% at 1,000.
        let bound = if s.members == 10 { 1.05 } else { 1.15 };
        assert!(s.max_over_mean < bound, "{s:?}");
        assert!(s.min_over_mean > 2.0 - bound, "{s:?}");
        // Only what must move moves (within 10%).
        assert!(s.moved_on_join <= s.minimum_on_join * 1.1, "{s:?}");
        assert!(s.moved_on_leave <= s.minimum_on_leave * 1.1, "{s:?}");
        assert!(s.moved_on_join >= s.minimum_on_join * 0.9, "{s:?}");
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
    let doc = std::fs::read_to_string(path).expect("docs/operations.md");
    let (head, rest) = doc
        .split_once(BEGIN)
        .expect("operations.md has the BEGIN marker");
    let (_, tail) = rest
        .split_once(END)
        .expect("operations.md has the END marker");
    let want = format!("{head}{BEGIN}{}{END}{tail}", markdown(&rows));
    if std::env::var_os("TOCSIN_REGEN_DOCS").is_some() {
        std::fs::write(path, &want).expect("write docs/operations.md");
        return;
    }
    assert!(
        doc == want,
        "docs/operations.md's simulation table is out of date; run `TOCSIN_REGEN_DOCS=1 cargo test --test cluster_simulation`"
    );
}
