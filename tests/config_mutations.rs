//! Robustness: thousands of corrupted variants of the corpus files (bytes flipped,
//! inserted, deleted, truncated) must each load or fail with one-line errors; a panic
//! anywhere fails the test.

use std::path::Path;

use tocsin::config::{LoadOptions, load_str};

/// xorshift64*: deterministic, so a failure reproduces with the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const NASTY: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"- ",
    b"\n",
    b"\t",
    b"'",
    b"\"",
    b"&a ",
    b"*a",
    b"!!binary ",
    b"%{",
    b"{{",
    b"}}",
    b"<<: ",
    b"---\n",
    b"\xc3",
    b"\x00",
    b"\xe2\x80\xa8",
    b"#",
    b"|\n",
];

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = rng.next() as u8;
            }
            1 => {
                let piece = NASTY[rng.below(NASTY.len())];
                v.splice(at..at, piece.iter().copied());
            }
            2 if at < v.len() => {
                let end = (at + rng.below(8) + 1).min(v.len());
                v.drain(at..end);
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn corrupted_rule_files_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules");
    let mut sources = Vec::new();
    for dir in ["valid", "tocsin/valid", "vmalert/valid"] {
        for e in std::fs::read_dir(root.join(dir)).expect("corpus") {
            sources.push(std::fs::read(e.expect("entry").path()).expect("read"));
        }
    }
    let opts = LoadOptions::default();
    let (mut ok, mut failed) = (0, 0);
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for src in &sources {
            let bytes = mutate(&mut rng, src);
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            match load_str(Path::new("m.yml"), &text, &opts) {
                Ok(_) => ok += 1,
                Err(errs) => {
                    failed += 1;
                    assert!(!errs.is_empty(), "seed {seed}: failure without errors");
                    for e in errs {
                        let msg = e.to_string();
                        assert!(!msg.contains('\n'), "seed {seed}: multi-line error {msg:?}");
                    }
                }
            }
        }
    }
    // Both outcomes must occur, or the mutations are not exercising anything.
    assert!(ok > 0 && failed > 0, "ok {ok}, failed {failed}");
}
