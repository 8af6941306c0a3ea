//! Literal tokens. Every value taken from a harness reaches the generated code through
//! here, as a single literal token built by `proc_macro2` — never by formatting source
//! text into code — so no string can close a literal or open a new item.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// A `"..."` literal: `Literal::string` escapes quotes, backslashes, control characters
/// and NUL, so any Rust string round-trips exactly.
pub fn str(s: &str) -> Literal {
    Literal::string(s)
}

/// `String::from("...")`.
pub fn string(s: &str) -> TokenStream {
    let l = str(s);
    quote!(String::from(#l))
}

pub fn u32(n: u32) -> Literal {
    Literal::u32_suffixed(n)
}

pub fn u64(n: u64) -> Literal {
    Literal::u64_suffixed(n)
}

pub fn usize(n: usize) -> Literal {
    Literal::usize_suffixed(n)
}

/// An `i64` expression. Negative numbers are written as `-` and a positive literal (a
/// literal token itself is never negative), and `i64::MIN` by name, since its magnitude
/// does not fit an `i64` literal.
pub fn i64(n: i64) -> TokenStream {
    if n == i64::MIN {
        quote!(i64::MIN)
    } else if n < 0 {
        let l = Literal::i64_suffixed(-n);
        quote!(-#l)
    } else {
        let l = Literal::i64_suffixed(n);
        quote!(#l)
    }
}

/// An `f64` expression that evaluates to exactly `x`, sign of zero and non-finite values
/// included (the literal is printed with Rust's shortest round-trip formatting).
pub fn f64(x: f64) -> TokenStream {
    if x.is_nan() {
        return quote!(f64::NAN);
    }
    if x.is_infinite() {
        return if x > 0.0 {
            quote!(f64::INFINITY)
        } else {
            quote!(f64::NEG_INFINITY)
        };
    }
    let l = Literal::f64_suffixed(x.abs());
    if x.is_sign_negative() {
        quote!(-#l)
    } else {
        quote!(#l)
    }
}

/// `Some(expr)` / `None` for an optional value.
pub fn option<T>(v: &Option<T>, f: impl Fn(&T) -> TokenStream) -> TokenStream {
    match v {
        Some(x) => {
            let inner = f(x);
            quote!(Some(#inner))
        }
        None => quote!(None),
    }
}
