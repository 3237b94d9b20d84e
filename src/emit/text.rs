//! Text from the inputs made safe to show where a control character acts instead of
//! printing: a terminal (ESC starts an escape sequence that can recolour, move the cursor,
//! set the window title or write a link; CR rewrites the line; BEL rings) and the Markdown
//! summary. Every control character is written out visibly instead, so a user name like
//! `admin\x1b[2K\rok` shows as what it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` acts rather than prints: C0 controls, DEL, C1 controls, and the
/// bidirectional formatting characters that reorder what follows them ("Trojan Source").
pub fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The visible form of a control character: `\t`, `\n`, `\r`, `\xNN` for the other C0
/// controls and DEL, `\u{NNNN}` for the rest.
pub fn visible_char(c: char, out: &mut String) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every control character ([`is_control`]) written out ([`visible_char`]);
/// borrowed when there is none.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            visible_char(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(visible("plain name"), "plain name");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(
            visible("red\u{1b}[31mX\u{7}\rOK"),
            "red\\x1b[31mX\\x07\\rOK"
        );
        assert_eq!(visible("a\tb\nc\0d\u{7f}"), "a\\tb\\nc\\x00d\\x7f");
        // C1 controls (CSI, NEL) and the bidirectional overrides.
        assert_eq!(visible("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(visible("x\u{2066}y\u{2069}"), "x\\u{2066}y\\u{2069}");
        // Printable non-ASCII is left alone.
        assert_eq!(visible("Zoë · 日本 ✅"), "Zoë · 日本 ✅");
        for c in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(c).unwrap();
            let v = visible(&c.to_string()).into_owned();
            assert!(
                v.starts_with('\\') && !v.chars().any(char::is_control),
                "{c:?} → {v:?}"
            );
        }
    }
}
