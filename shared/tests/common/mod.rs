//! What the golden-vector tests share: comparing a generated file with the committed one,
//! or rewriting it on request.

use std::path::Path;

/// Set to `1` to rewrite the committed files instead of comparing with them.
pub const BLESS_ENV: &str = "TICKWIRE_BLESS";

/// Fails if `path` does not hold exactly `generated`, showing the first difference; with
/// `TICKWIRE_BLESS=1`, writes `generated` there instead. `test` is the test target's name
/// and `js` the JavaScript file that must follow a deliberate change.
pub fn check_or_bless(path: &Path, generated: &str, test: &str, js: &str) {
    if std::env::var(BLESS_ENV).as_deref() == Ok("1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the testdata directory");
        }
        std::fs::write(path, generated).expect("write the golden file");
        eprintln!("wrote {} ({} bytes)", path.display(), generated.len());
        return;
    }
    let committed = std::fs::read_to_string(path)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}\nrun `{BLESS_ENV}=1 cargo test -p shared --test {test}` to create it",
                path.display()
            )
        })
        .replace("\r\n", "\n");
    if committed == generated {
        return;
    }
    let line = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    let (old, new) = (
        committed.lines().nth(line).unwrap_or_default(),
        generated.lines().nth(line).unwrap_or_default(),
    );
    // Show both versions around the first character that differs.
    let at = old
        .chars()
        .zip(new.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let show = |s: &str| {
        s.chars()
            .skip(at.saturating_sub(60))
            .take(160)
            .collect::<String>()
    };
    panic!(
        "{} is out of date (first difference on line {}, character {}):\n  committed: …{}\n  generated: …{}\n\
         If this changed on purpose, run `{BLESS_ENV}=1 cargo test -p shared --test {test}`, \
         update {js} to match and commit both.",
        path.display(),
        line + 1,
        at + 1,
        show(old),
        show(new),
    );
}
