//! Puts ld/memory.x where cortex-m-rt's link.x finds it (none sits in the
//! package root, where the linker would find a stale one first).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("ld/memory.x", out.join("memory.x")).expect("memory.x is copied");
    println!("cargo::rustc-link-search={}", out.display());
    println!("cargo::rerun-if-changed=ld/memory.x");
    println!("cargo::rustc-link-arg-bins=-Tlink.x");
}
