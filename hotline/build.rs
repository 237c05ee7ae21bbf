//! Records the commit the binary is built from, for `hotline --version`: `HOTLINE_COMMIT` if set
//! (a build from a tarball or in a container without `.git`), else `git rev-parse`, else
//! "unknown".

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HOTLINE_COMMIT");
    let git = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.git");
    // A new commit moves the branch the HEAD file names, not the HEAD file itself.
    println!("cargo:rerun-if-changed={}", git.join("HEAD").display());
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(branch) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed={}", git.join(branch).display());
        }
    }
    let commit = std::env::var("HOTLINE_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    println!("cargo:rustc-env=HOTLINE_COMMIT={}", commit.unwrap_or_else(|| "unknown".into()));
}
