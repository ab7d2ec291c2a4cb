//! The attribute's compile errors (`tests/ui`, each with the `.stderr` it must produce) and
//! the forms it accepts (`tests/pass`). Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p portcullis-macros --test compile_fail`, then read them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
