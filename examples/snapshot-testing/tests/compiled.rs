//! The compiled form of the harness, snapshot-tested: a change to `agent.harness` or an
//! upgrade of harnessx that changes the generated code shows up as a snapshot diff to
//! review (`cargo insta review`), never silently.

use harness_snapshots::harnessx;

#[test]
fn generated_rust() {
    insta::assert_snapshot!(harnessx(&["compile", "--emit", "rust", "agent.harness"]));
}

#[test]
fn lowered_ir() {
    insta::assert_snapshot!(harnessx(&["compile", "--emit", "ir", "agent.harness"]));
}
