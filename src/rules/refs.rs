//! What a condition or a message template refers to, read from its text: the params
//! (`p.name`) and the record fields (`var.field`), outside string literals and comments.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

/// `p.name` and `var.field` references.
pub(crate) fn refs_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\b(p|key|user|account|event|name|users)\b(?:\.([a-z_][a-z0-9_]*)\b(\s*\()?)?")
            .unwrap_or_else(|e| panic!("static regex: {e}"))
    })
}

/// Removes string literals and comments (`//` and nested `/* */`) so references are found
/// only in code, and brackets and operators only where they count.
pub(crate) fn code_only(src: &str) -> String {
    // Length-preserving (byte for byte), so offsets in the result are offsets in `src`.
    let blank = |out: &mut String, c: char| out.extend(std::iter::repeat_n(' ', c.len_utf8()));
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' | '\'' => {
                let quote = c;
                blank(&mut out, c);
                while let Some(d) = chars.next() {
                    if d == '\n' {
                        out.push('\n');
                    } else {
                        blank(&mut out, d);
                    }
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            blank(&mut out, e);
                        }
                    } else if d == quote {
                        break;
                    }
                }
            }
            // Block comments, nested as Rhai nests them.
            '/' if chars.peek() == Some(&'*') => {
                blank(&mut out, c);
                let mut depth = 0usize;
                let mut prev = '/';
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                    } else {
                        blank(&mut out, d);
                    }
                    match (prev, d) {
                        ('/', '*') => {
                            depth += 1;
                            prev = ' ';
                            continue;
                        }
                        ('*', '/') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            prev = ' ';
                            continue;
                        }
                        _ => {}
                    }
                    prev = d;
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                blank(&mut out, c);
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                    blank(&mut out, d);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The `p.<name>` params a condition or message reads.
pub fn param_refs(src: &str) -> BTreeSet<String> {
    let code = code_only(src);
    refs_regex()
        .captures_iter(&code)
        .filter(|c| &c[1] == "p")
        .filter_map(|c| c.get(2).map(|m| m.as_str().to_string()))
        .collect()
}

/// The record fields a condition reads, as `var.field` (or a bare variable), in order of
/// first appearance. Method calls (`user.has_tag(..)`) are not fields.
pub fn field_refs(src: &str) -> Vec<String> {
    let code = code_only(src);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for c in refs_regex().captures_iter(&code) {
        let var = &c[1];
        let name = match (c.get(2), c.get(3)) {
            (Some(_), Some(_)) => continue,
            (Some(f), None) => format!("{var}.{}", f.as_str()),
            (None, _) => var.to_string(),
        };
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Every `p.<name>` in a condition with the byte offset of its `p`.
pub fn param_ref_offsets(src: &str) -> Vec<(String, usize)> {
    let code = code_only(src);
    refs_regex()
        .captures_iter(&code)
        .filter(|c| &c[1] == "p")
        .filter_map(|c| {
            let start = c.get(0)?.start();
            c.get(2).map(|m| (m.as_str().to_string(), start))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_skip_strings_and_methods() {
        let src = r#"user.password_enabled && !user.has_tag("key.fake") && p.recent_days > key.age_days // user.comment"#;
        assert_eq!(
            field_refs(src),
            vec!["user.password_enabled", "p.recent_days", "key.age_days"]
        );
        assert_eq!(param_refs(src), BTreeSet::from(["recent_days".to_string()]));
    }

    #[test]
    fn block_comments_are_blanked_nested_and_in_place() {
        let src = "a /* x \" /* ( */ ) */ && b /**/ || c /* open";
        let code = code_only(src);
        assert_eq!(code.len(), src.len());
        assert_eq!(
            code.split_whitespace().collect::<Vec<_>>(),
            ["a", "&&", "b", "||", "c"]
        );
        assert_eq!(code_only("\"/* x\" + y").trim_start(), "+ y");
        assert_eq!(field_refs("/* key.fake */ user.name"), vec!["user.name"]);
    }
}
