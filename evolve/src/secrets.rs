//! A last guard against secrets in what harnessx writes for people and other tools
//! (`harnessx export`, `harnessx review`): the values of the environment variables that
//! may hold one are redacted wherever they appear.
//!
//! Traces never hold API keys (the runtime keeps only the *name* of a key's variable), so
//! this finds nothing in a normal run. It is here for what a trace cannot rule out: a model
//! or an environment that echoes a key into a reply or an observation.

/// What replaces a secret's value.
pub const REDACTED: &str = "[REDACTED]";

/// Shorter values are not treated as secrets: they would match ordinary text.
const MIN_LEN: usize = 8;

/// A variable whose name says it may hold a secret.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
        .iter()
        .any(|w| n.contains(w))
}

/// The secrets to look for: `(variable, value)` for every variable of this process whose
/// name says it may hold one, and for the variables named in `also` (a harness's
/// `api_key_env`, a model spec's `key_env`), longest value first (so a key that contains
/// another is redacted whole).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<(String, String)>,
}

impl Secrets {
    pub fn from_env(also: &[String]) -> Secrets {
        let mut values: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| secret_name(k) || also.contains(k))
            .collect();
        Secrets::sorted(&mut values);
        Secrets { values }
    }

    /// Exactly these `(variable, value)` pairs (for tests).
    pub fn of(mut values: Vec<(String, String)>) -> Secrets {
        Secrets::sorted(&mut values);
        Secrets { values }
    }

    fn sorted(values: &mut Vec<(String, String)>) {
        values.retain(|(_, v)| v.trim().len() >= MIN_LEN);
        values.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        values.dedup_by(|a, b| a.1 == b.1);
    }

    /// `text` with every secret value replaced by [`REDACTED`], and the names of the
    /// variables whose values were found.
    pub fn redact(&self, text: &str) -> (String, Vec<String>) {
        let mut out = text.to_string();
        let mut found = Vec::new();
        for (name, value) in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), REDACTED);
                found.push(name.clone());
            }
        }
        (out, found)
    }

    /// [`Secrets::redact`] for JSON text: each value is also looked for as it appears
    /// inside a JSON string (quotes and backslashes escaped).
    pub fn redact_json(&self, text: &str) -> (String, Vec<String>) {
        let mut escaped = self.clone();
        for (name, value) in &self.values {
            let quoted = serde_json::Value::String(value.clone()).to_string();
            let inner = &quoted[1..quoted.len() - 1];
            if inner != value {
                escaped.values.push((name.clone(), inner.to_string()));
            }
        }
        escaped.redact(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_redacted_longest_first_and_named() {
        let s = Secrets::of(vec![
            ("OPENAI_API_KEY".into(), "sk-abcdef123456".into()),
            ("SHORT_KEY".into(), "abc".into()),
            ("OTHER".into(), "sk-abcdef123456-longer".into()),
        ]);
        let (text, found) = s.redact("a sk-abcdef123456-longer b sk-abcdef123456 abc");
        assert_eq!(text, "a [REDACTED] b [REDACTED] abc");
        assert_eq!(found, ["OTHER", "OPENAI_API_KEY"]);
        let q = Secrets::of(vec![("K_TOKEN".into(), "ab\"cd\\efgh".into())]);
        let json = serde_json::json!({"x": "ab\"cd\\efgh"}).to_string();
        assert_eq!(q.redact_json(&json).0, r#"{"x":"[REDACTED]"}"#);
        assert!(secret_name("HARNESSX_API_KEY") && secret_name("gh_token"));
        assert!(!secret_name("HOME"));
    }
}
