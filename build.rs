//! Embeds the git revision the binary was built from (`QUORUM_GIT_REVISION`, shown in the
//! HTML report): `git rev-parse --short HEAD`, with `-dirty` when tracked files differed from
//! HEAD when this script last ran, or `unknown` outside a git checkout (a packaged crate).
//! It reruns only when HEAD or the branch it points to moves, not on every build, so the
//! dirty flag is as of the last commit or checkout.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let revision = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=QUORUM_GIT_REVISION={revision}");
    // Only files that exist: cargo treats a missing one as changed and would rerun this
    // script (and rebuild the crate) on every build.
    if let (Some(git_dir), Some(common)) = (git(&["rev-parse", "--git-dir"]), git(&["rev-parse", "--git-common-dir"])) {
        let mut watch = vec![PathBuf::from(&git_dir).join("HEAD"), PathBuf::from(&common).join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(PathBuf::from(&common).join(branch));
        }
        for p in watch.iter().filter(|p| p.is_file()) {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}
