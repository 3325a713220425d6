//! Embeds the sources of the lab's own OMAG Server Platform launcher (`platform/src`), so
//! that a lab binary always compiles exactly the launcher it was built with.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("platform/src");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut sources = Vec::new();
    collect(&root, &mut sources);
    sources.sort();
    let entries: String = sources
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("below the root");
            println!("cargo:rerun-if-changed={}", path.display());
            format!(
                "    ({:?}, include_str!({:?})),\n",
                relative.to_string_lossy(),
                path.display().to_string()
            )
        })
        .collect();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("platform_sources.rs"), format!("&[\n{entries}]\n"))
        .expect("writing the embedded sources list");
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, found);
        } else if path.extension().is_some_and(|e| e == "java") {
            found.push(path);
        }
    }
}
