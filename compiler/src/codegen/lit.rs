//! Literals. Every value taken from a harness reaches the generated code through here, as
//! the text of a single literal token built by `proc_macro2` — never by formatting source
//! text into code — so no string can close a literal or open a new item.

use proc_macro2::Literal;

/// A `"..."` literal: `Literal::string` escapes quotes, backslashes, control characters
/// and NUL, so any Rust string round-trips exactly.
pub fn str(s: &str) -> String {
    Literal::string(s).to_string()
}

/// `String::from("...")`.
pub fn string(s: &str) -> String {
    format!("String::from({})", str(s))
}

pub fn u32(n: u32) -> String {
    format!("{n}u32")
}

pub fn u64(n: u64) -> String {
    format!("{n}u64")
}

pub fn usize(n: usize) -> String {
    format!("{n}usize")
}

/// An `i64` expression. Negative numbers are written as `-` and a positive literal (a
/// literal token itself is never negative), and `i64::MIN` by name, since its magnitude
/// does not fit an `i64` literal.
pub fn i64(n: i64) -> String {
    if n == i64::MIN {
        "i64::MIN".to_string()
    } else if n < 0 {
        format!("-{}i64", -n)
    } else {
        format!("{n}i64")
    }
}

/// An `f64` expression that evaluates to exactly `x`, sign of zero and non-finite values
/// included (the literal is printed with Rust's shortest round-trip formatting).
pub fn f64(x: f64) -> String {
    if x.is_nan() {
        return "f64::NAN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "f64::INFINITY".to_string()
        } else {
            "f64::NEG_INFINITY".to_string()
        };
    }
    let l = Literal::f64_suffixed(x.abs()).to_string();
    if x.is_sign_negative() {
        format!("-{l}")
    } else {
        l
    }
}

/// `Some(..)` / `None` for an optional value.
pub fn option<T>(v: &Option<T>, f: impl Fn(&T) -> String) -> String {
    match v {
        Some(x) => format!("Some({})", f(x)),
        None => "None".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_the_tokens_proc_macro2_prints() {
        assert_eq!(str("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
        assert_eq!(u32(7), Literal::u32_suffixed(7).to_string());
        assert_eq!(u64(7), Literal::u64_suffixed(7).to_string());
        assert_eq!(usize(7), Literal::usize_suffixed(7).to_string());
        assert_eq!(i64(-3), "-3i64");
        assert_eq!(i64(i64::MIN), "i64::MIN");
        assert_eq!(f64(0.2), "0.2f64");
        assert_eq!(f64(-0.0), format!("-{}", Literal::f64_suffixed(0.0)));
        assert_eq!(f64(f64::NEG_INFINITY), "f64::NEG_INFINITY");
    }
}
