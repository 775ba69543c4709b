//! `include/blepake.h` is what cbindgen makes of the crate now: the header
//! C code compiles against never drifts from the library it links.
//! `BLEPAKE_BLESS=1 cargo test -p blepake-ffi --test header` rewrites it.

use std::path::Path;

#[test]
fn the_header_is_generated_from_the_crate() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads the crate")
        .write(&mut generated);
    let path = crate_dir.join("include/blepake.h");
    if std::env::var_os("BLEPAKE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == generated,
        "include/blepake.h is stale: run BLEPAKE_BLESS=1 cargo test -p blepake-ffi --test header"
    );
}
