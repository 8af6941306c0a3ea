//! Integration-test crate; the tests live in tests/tests/.
