//! Every diagnostic code, with a one-line meaning: the one registry of codes. docs/LANGUAGE.md
//! lists the same codes (a test keeps them in step), so a code is never reused for
//! something else.
//!
//! The syntax codes `E0001`–`E0009` are produced by the parser, which cannot depend on
//! this crate: their codes and titles are [`SyntaxErrorKind::code`] and
//! [`SyntaxErrorKind::title`], and this registry takes them from there. Internal codes
//! ([`INTERNAL`]) only a bug in harnessx can produce.

use harnessx_syntax::SyntaxErrorKind;

/// A documented diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
}

macro_rules! codes {
    (
        syntax { $($syntax:ident = $kind:ident;)* }
        checker { $($name:ident = $code:literal, $title:literal;)* }
        internal { $($internal:ident = $icode:literal, $ititle:literal;)* }
    ) => {
        $(
            #[doc = concat!("The syntax error [`SyntaxErrorKind::", stringify!($kind), "`].")]
            pub const $syntax: &str = SyntaxErrorKind::$kind.code();
        )*
        $(#[doc = $title] pub const $name: &str = $code;)*
        $(#[doc = $ititle] pub const $internal: &str = $icode;)*
        /// All codes a source file can produce, in order.
        pub const ALL: &[CodeInfo] = &[
            $(CodeInfo {
                code: SyntaxErrorKind::$kind.code(),
                title: SyntaxErrorKind::$kind.title(),
            },)*
            $(CodeInfo { code: $code, title: $title }),*
        ];
        /// Codes that only a bug in harnessx can produce (the checker accepted a file that a
        /// later stage cannot handle). No fixture can reach them; docs/LANGUAGE.md names
        /// them in prose.
        pub const INTERNAL: &[CodeInfo] = &[$(CodeInfo { code: $icode, title: $ititle }),*];
    };
}

codes! {
    // Syntax (produced by the parser).
    syntax {
        UNEXPECTED = Unexpected;
        UNTERMINATED_STRING = UnterminatedString;
        INVALID_ESCAPE = InvalidEscape;
        NUMBER_OUT_OF_RANGE = NumberOutOfRange;
        MISSING_HEADER = MissingHeader;
        UNCLOSED = Unclosed;
        UNMATCHED = Unmatched;
        TRAILING_TEXT = TrailingText;
        TOO_DEEP = TooDeep;
    }

    checker {
        // Names.
        UNKNOWN_SECTION = "E0101", "unknown section";
        UNKNOWN_FIELD = "E0102", "unknown field in a section or tool option block";
        UNKNOWN_TYPE = "E0103", "unknown parameter type";
        UNKNOWN_ANNOTATION = "E0104", "unknown annotation";
        UNKNOWN_ARGUMENT = "E0105", "unknown named argument of an action, detector or annotation";
        UNKNOWN_DETECTOR = "E0106", "unknown detector in a condition";
        UNKNOWN_METRIC = "E0107", "unknown metric in a comparison";
        UNKNOWN_SUBJECT = "E0108", "unknown subject of `matches`";
        UNKNOWN_HOOK = "E0109", "unknown hook";
        UNKNOWN_ACTION = "E0110", "unknown action";
        UNKNOWN_TOOL = "E0111", "`call(..)` names a tool that is not declared";
        UNKNOWN_TEMPLATE_VAR = "E0112", "unknown template variable `{{..}}`";
        UNKNOWN_PIN = "E0113", "unknown reference in `context.pin`";
        DUPLICATE_DEFINITION = "E0120", "a section, tool, prompt or rule name is defined twice";
        DUPLICATE_ENTRY = "E0121", "a field, parameter, argument, annotation or choice is repeated";

        // Types and ranges.
        TYPE_MISMATCH = "E0201", "a value has the wrong type";
        OUT_OF_RANGE = "E0202", "a value is outside its legal range";
        UNKNOWN_VARIANT = "E0203", "a name is not one of the allowed variants";
        MISSING_ARGUMENT = "E0204", "a required argument or message is missing";
        UNEXPECTED_ARGUMENT = "E0205", "an argument or message that is not accepted here";
        INVALID_ENUM_TYPE = "E0206", "an `enum(..)` type with no or repeated variants";
        INVALID_REGEX = "E0207", "a `matches` pattern is not a valid regular expression";

        // Semantics.
        CONDITION_NOT_AVAILABLE = "E0301", "a detector, metric or subject is not available on the rule's hook";
        ACTION_NOT_ALLOWED = "E0302", "an action is not legal on the rule's hook";
        READ_ONLY_HOOK = "E0303", "an action that changes the trajectory on a read-only hook";
        OTHERWISE_NOT_ALLOWED = "E0304", "`otherwise` after an action that cannot fail, or after a fallback";
        MISSING_SYSTEM_PROMPT = "E0305", "the harness has no `prompt system`";
        MISSING_TOOLS = "E0306", "the harness declares no tool";
        EVOLVE_FROZEN = "E0307", "`@evolve` and `@frozen` on the same node";
        MISPLACED_ANNOTATION = "E0308", "an annotation where it does not apply (`@evolve` on an item)";
        EVOLVE_KIND = "E0309", "`range` on a non-numeric field or `choices` on a non-enum field";
        EMPTY_EVOLVE_BOUNDS = "E0310", "an `@evolve` range with LO ≥ HI, or empty `choices`";
        EVOLVE_OUT_OF_RANGE = "E0311", "an `@evolve` bound outside the field's legal range";
        VALUE_OUTSIDE_EVOLVE = "E0312", "the field's current value is outside its `@evolve` bounds";
        NOT_EVOLVABLE = "E0313", "`@evolve` on a field the evolver may never change";
        COUNT_EXCEEDS_WINDOW = "E0314", "`repeated_action` with `count` greater than `window`";
        NO_ROOM_FOR_PROMPT = "E0315", "`model.context_window` leaves no room for a prompt after `max_tokens`";

        // Warnings.
        ALWAYS_FIRES = "W0001", "a rule without `when` blocks or stops on every event";
        EMPTY_RULE = "W0002", "a rule with no actions";
        DUPLICATE_PIN = "W0003", "the same reference is pinned twice";
        NO_EFFECT = "W0004", "a field that has no effect with the other settings";
    }

    internal {
        LOWERING_FAILED = "E0901", "lowering failed: the checker accepted a file that cannot be lowered (a bug in harnessx)";
    }
}

/// The entry for a code, if it exists (internal codes included).
pub fn info(code: &str) -> Option<&'static CodeInfo> {
    ALL.iter().chain(INTERNAL).find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syntax_error_kind_is_registered() {
        for kind in SyntaxErrorKind::ALL {
            let info = info(kind.code()).expect("registered");
            assert_eq!(info.title, kind.title());
        }
        let syntax = ALL.iter().filter(|c| c.code.starts_with("E000")).count();
        assert_eq!(syntax, SyntaxErrorKind::ALL.len());
    }
}
