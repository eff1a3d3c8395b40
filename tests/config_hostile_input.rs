//! Hostile and broken input: each case ends in clear one-line errors and a failed load,
//! never a panic or a hang.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tocsin::config::{LoadError, LoadOptions, load, load_file};

fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).expect("write");
    p
}

/// Loads `path`, expecting failure; checks every message is one line naming the file.
fn fails(path: &Path) -> Vec<LoadError> {
    let errs = load_file(path, &LoadOptions::default()).expect_err("must be rejected");
    assert!(!errs.is_empty());
    for e in &errs {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "multi-line message: {msg}");
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    }
    errs
}

#[test]
fn empty_and_comment_only_files_are_valid_with_no_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("empty.yml", ""),
        ("blank.yml", "\n\n   \n"),
        ("comments.yml", "# soon\n"),
        ("null.yml", "~\n"),
        ("groups-null.yml", "groups:\n"),
    ] {
        let p = file(dir.path(), name, text.as_bytes());
        let groups =
            load_file(&p, &LoadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(groups.is_empty(), "{name}");
    }
}

#[test]
fn not_yaml_list_scalar_and_wrong_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &str); 5] = [
        ("syntax.yml", "groups: [\n  - a\n", "not a valid rule file"),
        (
            "list.yml",
            "- name: a\n  rules: []\n",
            "the top level must be a mapping",
        ),
        ("scalar.yml", "hello\n", "the top level must be a mapping"),
        (
            "rules-int.yml",
            "groups:\n  - name: a\n    rules: 5\n",
            "expected a list here",
        ),
        (
            "tabs.yml",
            "groups:\n\t- name: a\n",
            "not a valid rule file",
        ),
    ];
    for (name, text, expect) in cases {
        let p = file(dir.path(), name, text.as_bytes());
        let errs = fails(&p);
        assert!(errs[0].to_string().contains(expect), "{name}: {}", errs[0]);
    }
}

#[test]
fn binary_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = file(
        dir.path(),
        "bin.yml",
        &[0, 159, 146, 150, 0xff, 0xfe, 0, 1, 2],
    );
    assert!(fails(&p)[0].to_string().contains("not UTF-8 text"));
    // Valid UTF-8 but full of control characters.
    let p = file(dir.path(), "ctrl.yml", b"\x00\x01\x02groups:\x1b[0m\n");
    assert!(fails(&p)[0].to_string().contains("not a valid rule file"));
}

#[test]
fn fifty_megabyte_files_do_not_break_the_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A valid file padded to 50 MB with comments.
    let p = dir.path().join("big-valid.yml");
    let mut f = fs::File::create(&p).expect("create");
    f.write_all(b"groups:\n  - name: big\n    rules:\n      - record: a\n        expr: up\n")
        .expect("write");
    let line = format!("# {}\n", "x".repeat(97));
    for _ in 0..(50 * 1024 * 1024 / line.len()) {
        f.write_all(line.as_bytes()).expect("write");
    }
    drop(f);
    let groups = load_file(&p, &LoadOptions::default()).expect("valid despite its size");
    assert_eq!(groups[0].rules.len(), 1);
    // 50 MB of nonsense where the group list should be.
    let junk = format!("groups: {}\n", "garbage ".repeat(50 * 1024 * 1024 / 8));
    let p = file(dir.path(), "big-junk.yml", junk.as_bytes());
    assert!(fails(&p)[0].to_string().contains("expected a list here"));
}

#[test]
fn deeply_nested_yaml_is_refused_not_recursed_into() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = format!("groups: {}\n", "[".repeat(100_000));
    let p = file(dir.path(), "flow.yml", flow.as_bytes());
    assert!(fails(&p)[0].to_string().contains("nested too deeply"));
    let mut block = String::from("groups:\n  - name: g\n    junk:\n");
    for depth in 3..5_000 {
        block.push_str(&"  ".repeat(depth));
        block.push_str("a:\n");
    }
    let p = file(dir.path(), "block.yml", block.as_bytes());
    assert!(fails(&p)[0].to_string().contains("nested too deeply"));
}

#[test]
fn unreadable_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let errs = fails(dir.path());
    assert!(
        errs[0].to_string().contains("it is a directory"),
        "{}",
        errs[0]
    );
    let errs = fails(&dir.path().join("missing.yml"));
    assert!(
        errs[0]
            .to_string()
            .ends_with("cannot read the file: no such file")
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = file(dir.path(), "secret.yml", b"groups: []\n");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).expect("chmod");
        if fs::read(&p).is_ok() {
            eprintln!("SKIPPED permission case: running as root, mode 000 is still readable");
        } else {
            assert!(fails(&p)[0].to_string().contains("permission denied"));
        }
    }
}

#[test]
fn patterns_that_find_nothing_fail_the_whole_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = file(dir.path(), "good.yml", b"groups: []\n");
    let patterns = vec![
        good.display().to_string(),
        format!("{}/nothing-*.yml", dir.path().display()),
        format!("{}/[unclosed", dir.path().display()),
    ];
    let err = load(&patterns, &LoadOptions::default()).expect_err("must fail");
    let text = err.to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("no file matches the pattern"), "{text}");
    assert!(text.contains("invalid file pattern"), "{text}");
}
