//! The README's "Using the core" shows `examples/pair.rs` as it is, so the
//! code a reader copies is code that compiles and runs.

#[test]
fn the_readme_shows_the_pair_example_verbatim() {
    let readme = include_str!("../../../README.md");
    let example = include_str!("../examples/pair.rs");
    let section = readme
        .split_once("## Using the core")
        .expect("the README has the section")
        .1;
    let code = section
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .expect("a rust block in the section")
        .0;
    assert_eq!(code, example, "update the README from examples/pair.rs");
}
