//! Fuzz target: any bytes, as text, through parse, check, both diagnostic renderers,
//! fmt, lower and code generation, with the invariants of
//! `harnessx_tests::oracle::check_front_end`: no panic; fmt is idempotent;
//! `parse(fmt(x))` has the tree of `x`, spans aside; a checked file lowers, its generated
//! module is Rust that `syn` parses, and its formatted text lowers to the same IR.
//!
//! A broken invariant panics with the finding, which libFuzzer reports as a crash and
//! saves as `fuzz/artifacts/front_end/crash-*`. docs/TESTING.md says how to run it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Invalid UTF-8 never reaches the front end (files are read as UTF-8 and refused
    // otherwise); a lossy conversion keeps every mutation useful instead of wasting the
    // ones that break an encoding.
    let src = String::from_utf8_lossy(data);
    if let Err(finding) = harnessx_tests::oracle::check_front_end(&src) {
        panic!("{finding}");
    }
});
