//! Prefilters: the leading simple tests of a condition, checked in Rust before Rhai runs.
//!
//! A condition that is a top-level conjunction `a && b && c` (no top-level `||`, no
//! statements) is false as soon as one conjunct is false, and Rhai evaluates the conjuncts in
//! order. So the longest prefix of conjuncts that are *simple* (a comparison of an
//! always-available record field with a literal or a param) can be checked in Rust with the
//! same result: when one fails the condition is false, exactly as Rhai would have said, and
//! nothing after it would have run. When every conjunct is simple, Rust decides alone.
//! An opening `if !x { return false; }` is a prefix too. The semantics of the comparisons
//! follow Rhai's (numbers compare as floats; `()` equals only `()`; an ordering against `()`
//! or across types is false), which a test pins.
//!
//! A field can be unknown for one record (a key or password whose last use the source could
//! not tell), where Rhai raises "not evaluable": a conjunct that reads such a field leaves the
//! record to Rhai, never decides it.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::inventory::{AccessKey, User};
use crate::rules::fields::{Reader, Ty, Val};
use crate::rules::params::{EffectiveParams, ParamValue};
use crate::rules::scopes::Binding;
use crate::vocab::Scope as RuleScope;

/// A field a prefilter can read (never one a source may lack): its declaration in
/// [`crate::rules::fields`], found through the variables of the rule's scope.
#[derive(Clone, Copy)]
struct FieldId {
    var: &'static str,
    name: &'static str,
    ty: Ty,
    reader: Reader,
}

impl PartialEq for FieldId {
    fn eq(&self, other: &FieldId) -> bool {
        (self.var, self.name) == (other.var, other.name)
    }
}

impl std::fmt::Debug for FieldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.var, self.name)
    }
}

impl FieldId {
    /// `var.field` in `scope`, if the prefilter can read it there.
    fn parse(scope: RuleScope, var: &str, field: &str) -> Option<FieldId> {
        let var = crate::rules::scopes::def(scope)
            .variables
            .iter()
            .find(|v| v.name == var)?;
        let Binding::Record(kind) = var.binding else {
            return None;
        };
        let info = kind.field(field)?;
        Some(FieldId {
            var: var.name,
            name: info.name,
            ty: info.ty,
            reader: info.prefilter?,
        })
    }

    /// The field's value, or `None` when it is unknown for this record (Rhai raises "not
    /// evaluable" there).
    fn read<'a>(
        self,
        user: &'a User,
        key: Option<&'a AccessKey>,
        as_of: &DateTime<Utc>,
    ) -> Option<Val<'a>> {
        match (self.reader, key) {
            (Reader::User(read), _) => read(user, as_of),
            (Reader::Key(read), Some(k)) => read(k, as_of),
            // A key field without a key cannot happen (scopes are checked at extraction).
            (Reader::Key(_), None) => Some(Val::Unit),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A constant right-hand side.
#[derive(Clone, Debug, PartialEq)]
enum Constant {
    Unit,
    Num(f64),
    Str(String),
}

/// One simple conjunct.
#[derive(Clone, Debug, PartialEq)]
enum Atom {
    /// A test of params only, known when the rule is compiled (`!p.list.is_empty()`).
    Const(bool),
    /// The negation of an atom (from `if atom { return false; }`).
    Not(Box<Atom>),
    /// `field` or `!field` on a boolean field.
    Flag(FieldId, bool),
    /// `field OP constant`.
    Compare(FieldId, Op, Constant),
}

impl Atom {
    /// Whether the atom holds, or `None` when it reads a field unknown for this record.
    fn holds(&self, user: &User, key: Option<&AccessKey>, as_of: &DateTime<Utc>) -> Option<bool> {
        Some(match self {
            Atom::Const(b) => *b,
            Atom::Not(a) => !a.holds(user, key, as_of)?,
            Atom::Flag(f, want) => f.read(user, key, as_of)? == Val::Bool(*want),
            Atom::Compare(f, op, c) => compare(&f.read(user, key, as_of)?, *op, c),
        })
    }
}

/// Rhai's comparison of two values: numbers as floats; equal types otherwise; across types
/// `==` is false, `!=` true and orderings false.
fn compare(l: &Val, op: Op, r: &Constant) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Val::Num(a), Constant::Num(b)) => a.partial_cmp(b),
        (Val::Str(a), Constant::Str(b)) => Some((*a).cmp(b.as_str())),
        (Val::Unit, Constant::Unit) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        // Rhai does not order units or strings against each other in conditions we accept.
        (_, None) => false,
        (Op::Lt, Some(o)) => matches!((l, r), (Val::Num(_), _)) && o == Ordering::Less,
        (Op::Le, Some(o)) => matches!((l, r), (Val::Num(_), _)) && o != Ordering::Greater,
        (Op::Gt, Some(o)) => matches!((l, r), (Val::Num(_), _)) && o == Ordering::Greater,
        (Op::Ge, Some(o)) => matches!((l, r), (Val::Num(_), _)) && o != Ordering::Less,
    }
}

/// The simple prefix of a condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Prefilter {
    atoms: Vec<Atom>,
    /// The atoms are the whole condition: Rust decides alone.
    complete: bool,
}

/// What a prefilter says about a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The condition is false.
    False,
    /// The condition is true (every conjunct was simple and held).
    True,
    /// Rhai must decide.
    Undecided,
}

impl Prefilter {
    /// Checks the record.
    pub fn check(&self, user: &User, key: Option<&AccessKey>, as_of: &DateTime<Utc>) -> Verdict {
        // In order, as Rhai evaluates `&&`: a false conjunct ends it before any later one is
        // read; a conjunct on an unknown field is where Rhai would raise "not evaluable".
        for atom in &self.atoms {
            match atom.holds(user, key, as_of) {
                Some(true) => {}
                Some(false) => return Verdict::False,
                None => return Verdict::Undecided,
            }
        }
        if self.complete {
            Verdict::True
        } else {
            Verdict::Undecided
        }
    }

    /// Whether Rust decides the whole condition.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

/// Splits `code` (literals and comments blanked, so offsets match the condition and brackets
/// in a comment are not counted) at top-level `&&`, or returns `None` when the top level has
/// an operator that binds looser than `&&` or as loosely without short-circuiting (`||`,
/// `|`, `^`, `&`), `;`, unbalanced brackets or statements.
///
/// With Rhai's precedence `a && b | c` is `(a && b) | c`: a record that fails `a` can still
/// make the condition true through `c`, so only a condition that is nothing but `&&` at its
/// top level may be cut at a false conjunct. `a && b & c` is `(a && b) & c`, which evaluates
/// `c` even when `a` is false (and `c` may fail or be not evaluable).
fn conjuncts(code: &str) -> Option<Vec<(usize, usize)>> {
    let b = code.as_bytes();
    let mut depth = 0i32;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b';' if depth == 0 => return None,
            b'|' | b'^' if depth == 0 => return None,
            b'&' if depth == 0 && b.get(i + 1) == Some(&b'&') => {
                parts.push((start, i));
                start = i + 2;
                i += 1;
            }
            b'&' if depth == 0 => return None,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
        i += 1;
    }
    if depth != 0 {
        return None;
    }
    parts.push((start, b.len()));
    Some(parts)
}

fn regexes() -> &'static [Regex; 5] {
    static RE: OnceLock<[Regex; 5]> = OnceLock::new();
    RE.get_or_init(|| {
        let make = |s: &str| Regex::new(s).unwrap_or_else(|e| panic!("static regex: {e}"));
        [
            // !key.never_used
            make(r"^\s*(!?)\s*(key|user)\.([a-z_]+)\s*$"),
            // key.age_days > p.max_key_age_days, key.status == "Active", x != ()
            make(
                r#"^\s*(key|user)\.([a-z_]+)\s*(==|!=|<=|>=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?|"[^"\\]*"|\(\s*\)|p\.[a-z_][a-z0-9_]*)\s*$"#,
            ),
            // if !user.password_enabled { return false; }  /  if user.active_keys < 2 { ... }
            make(r"^\s*if\s+([^{};|&]+?)\s*\{\s*return\s+false\s*;?\s*\}"),
            // !p.expected_services.is_empty()
            make(r"^\s*(!?)\s*p\.([a-z_][a-z0-9_]*)\.is_empty\(\)\s*$"),
            // p.expected_services.len() > 0
            make(r"^\s*p\.([a-z_][a-z0-9_]*)\.len\(\)\s*(>|!=)\s*0\s*$"),
        ]
    })
}

fn constant(text: &str, params: &EffectiveParams) -> Option<Constant> {
    let t = text.trim();
    if let Some(name) = t.strip_prefix("p.") {
        return match params.get(name)? {
            ParamValue::Int(i) => Some(Constant::Num(*i as f64)),
            ParamValue::Float(f) => Some(Constant::Num(*f)),
            ParamValue::String(s) => Some(Constant::Str(s.clone())),
            _ => None,
        };
    }
    if t.starts_with('(') {
        return Some(Constant::Unit);
    }
    if let Some(s) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Some(Constant::Str(s.to_string()));
    }
    t.parse::<f64>().ok().map(Constant::Num)
}

fn op(s: &str) -> Option<Op> {
    Some(match s {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => return None,
    })
}

fn is_flag(f: FieldId) -> bool {
    f.ty == Ty::Bool
}

/// Parses one conjunct (in the original text) as an atom.
fn atom(text: &str, scope: RuleScope, params: &EffectiveParams) -> Option<Atom> {
    let [flag, cmp, _, empty, len] = regexes();
    let list_len = |name: &str| match params.get(name)? {
        ParamValue::Strings(v) => Some(v.len()),
        ParamValue::Regexes(v) => Some(v.0.len()),
        _ => None,
    };
    if let Some(c) = empty.captures(text) {
        let n = list_len(&c[2])?;
        // `p.x.is_empty()` holds for an empty list; `!p.x.is_empty()` for a non-empty one.
        return Some(Atom::Const((n == 0) == c[1].is_empty()));
    }
    if let Some(c) = len.captures(text) {
        return Some(Atom::Const(list_len(&c[1])? > 0));
    }
    if let Some(c) = flag.captures(text) {
        let f = FieldId::parse(scope, &c[2], &c[3]).filter(|f| is_flag(*f))?;
        return Some(Atom::Flag(f, c[1].is_empty()));
    }
    let c = cmp.captures(text)?;
    let f = FieldId::parse(scope, &c[1], &c[2]).filter(|f| !is_flag(*f))?;
    let op = op(&c[3])?;
    let value = constant(&c[4], params)?;
    // Orderings only between numbers; strings and units only with == and !=.
    let numeric_field = !matches!(f.ty, Ty::Text | Ty::OptText);
    match (&value, op) {
        (Constant::Num(_), _) if numeric_field => {}
        (Constant::Str(_) | Constant::Unit, Op::Eq | Op::Ne) => {}
        _ => return None,
    }
    Some(Atom::Compare(f, op, value))
}

/// The prefilter of a condition, if it has a simple prefix. `code` is the condition with
/// literals and comments blanked (same byte offsets).
pub fn extract(
    condition: &str,
    code: &str,
    scope: RuleScope,
    params: &EffectiveParams,
) -> Option<Prefilter> {
    if !matches!(scope, RuleScope::Key | RuleScope::User) || code.len() != condition.len() {
        return None;
    }
    if let Some(c) = regexes()[2].captures(condition) {
        // `if a { return false; }` opens the condition: the rest runs only when `a` is false.
        let inner = atom(&c[1], scope, params)?;
        return Some(Prefilter {
            atoms: vec![Atom::Not(Box::new(inner))],
            complete: false,
        });
    }
    let parts = conjuncts(code)?;
    let mut atoms = Vec::new();
    for &(a, b) in &parts {
        match atom(&condition[a..b], scope, params) {
            Some(at) => atoms.push(at),
            None => break,
        }
    }
    let complete = atoms.len() == parts.len();
    (!atoms.is_empty()).then_some(Prefilter { atoms, complete })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::KeyStatus;

    fn ex(cond: &str, scope: RuleScope) -> Option<Prefilter> {
        let mut params = EffectiveParams::new();
        params.insert("n".into(), ParamValue::Int(30));
        params.insert("list".into(), ParamValue::Strings(vec![]));
        extract(cond, &crate::rules::refs::code_only(cond), scope, &params)
    }

    #[test]
    fn whole_conjunctions_of_simple_tests_are_complete() {
        let p = ex(
            "key.status == \"Active\" && key.age_days > p.n\n  && key.days_since_used != () && key.days_since_used <= 30",
            RuleScope::Key,
        )
        .unwrap();
        assert!(p.complete);
        assert_eq!(p.atoms.len(), 4);
        let p = ex(
            "key.status == \"Inactive\" && !user.has_tag(\"x\")",
            RuleScope::Key,
        )
        .unwrap();
        assert!(!p.complete);
        assert_eq!(p.atoms.len(), 1);
    }

    #[test]
    fn anything_not_exact_is_left_to_rhai() {
        assert_eq!(
            ex("key.status == \"Active\" && a || b", RuleScope::Key),
            None
        );
        assert_eq!(ex("key.age_days > p.list", RuleScope::Key), None);
        assert_eq!(ex("key.never_used && x", RuleScope::User), None);
        assert_eq!(ex("key.status > \"A\"", RuleScope::Key), None);
        assert_eq!(
            ex("user.password_age_days > 3", RuleScope::User),
            None,
            "may be unavailable"
        );
        assert_eq!(
            ex("x && key.never_used", RuleScope::Key),
            None,
            "only a prefix counts"
        );
        assert_eq!(ex("key.never_used && x; y", RuleScope::Key), None);
        let p = ex(
            "if !user.password_enabled { return false; } let x = 1; x > 0",
            RuleScope::User,
        )
        .unwrap();
        assert_eq!(
            p.atoms,
            vec![Atom::Not(Box::new(Atom::Flag(
                FieldId::parse(RuleScope::User, "user", "password_enabled").unwrap(),
                false
            )))]
        );
        let p = ex(
            "if user.active_keys < 2 { return false; } true",
            RuleScope::User,
        )
        .unwrap();
        assert!(!p.complete);
        let p = ex("p.list.len() > 0 && key.service != ()", RuleScope::Key).unwrap();
        assert_eq!(p.atoms[0], Atom::Const(false));
        let p = ex("!p.list.is_empty() && x", RuleScope::Key).unwrap();
        assert_eq!(p.atoms[0], Atom::Const(false));
    }

    #[test]
    fn operators_looser_than_and_are_refused() {
        // `a && b | c` is `(a && b) | c`: a record failing `a` may still pass through `c`.
        for cond in [
            "key.never_used && key.age_days > 30 | true",
            "key.never_used && key.age_days > 30 ^ true",
            "key.never_used | key.age_days > 30",
            // `&` does not short-circuit: `c` runs (and may fail) even when `a` is false.
            "key.never_used && key.age_days > 30 & x",
        ] {
            assert_eq!(ex(cond, RuleScope::Key), None, "{cond}");
        }
        // Inside brackets they are the conjunct's own business.
        let p = ex("key.never_used && (x | y)", RuleScope::Key).unwrap();
        assert_eq!(p.atoms.len(), 1);
        assert!(!p.complete);
    }

    #[test]
    fn comments_do_not_count() {
        // A bracket or quote in a block comment must not hide a top-level `||`.
        for cond in [
            "key.never_used && key.age_days > 3 /* ( */ || true /* ) */",
            "key.never_used && key.age_days > 3 /* \" */ || true /* \" */",
            "key.never_used && key.age_days > 3 /* /* ( */ */ || true",
            "key.never_used && key.age_days > 3 // (\n || true",
        ] {
            assert_eq!(ex(cond, RuleScope::Key), None, "{cond}");
        }
        // A `||` in a comment is no operator.
        let p = ex("key.never_used && x /* || */", RuleScope::Key).unwrap();
        assert_eq!(p.atoms.len(), 1);
    }

    #[test]
    fn unknown_last_use_is_left_to_rhai() {
        let as_of = DateTime::parse_from_rfc3339("2026-03-06T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let created = as_of - chrono::Duration::days(100);
        let key = AccessKey {
            id: "AKIA".into(),
            created,
            last_used_unknown: true,
            ..AccessKey::default()
        };
        let mut user = User::named("u");
        // `unused-active-key`: Rhai raises on `key.never_used`, so Rust must not decide.
        let p = ex(
            "key.status == \"Active\" && key.never_used && key.age_days > 7",
            RuleScope::Key,
        )
        .unwrap();
        assert!(p.complete);
        assert_eq!(p.check(&user, Some(&key), &as_of), Verdict::Undecided);
        // A conjunct before it that is false still decides: Rhai never reaches the unknown.
        let inactive = AccessKey {
            status: KeyStatus::Inactive,
            ..key.clone()
        };
        assert_eq!(p.check(&user, Some(&inactive), &as_of), Verdict::False);
        // `unexpected-service`: no known service is not `()`.
        let p = ex("key.service != () && x", RuleScope::Key).unwrap();
        assert_eq!(p.check(&user, Some(&key), &as_of), Verdict::Undecided);
        // A password of unknown last use.
        user.password.enabled = true;
        user.password.last_used_unknown = true;
        let p = ex(
            "user.password_enabled && user.days_since_password_used != ()",
            RuleScope::User,
        )
        .unwrap();
        assert_eq!(p.check(&user, None, &as_of), Verdict::Undecided);
        let p = ex("!user.password_never_used", RuleScope::User).unwrap();
        assert_eq!(p.check(&user, None, &as_of), Verdict::Undecided);
        let p = ex(
            "if user.password_never_used { return false; } x",
            RuleScope::User,
        )
        .unwrap();
        assert_eq!(p.check(&user, None, &as_of), Verdict::Undecided);
        // Without a password, `password_never_used` is known to be false.
        user.password.enabled = false;
        let p = ex("user.password_never_used", RuleScope::User).unwrap();
        assert_eq!(p.check(&user, None, &as_of), Verdict::False);
    }

    #[test]
    fn comparisons_follow_rhai() {
        let unit = Val::Unit;
        assert!(!compare(&unit, Op::Le, &Constant::Num(30.0)));
        assert!(compare(&unit, Op::Ne, &Constant::Num(30.0)));
        assert!(compare(&unit, Op::Eq, &Constant::Unit));
        assert!(compare(&Val::Num(30.0), Op::Le, &Constant::Num(30.0)));
        assert!(!compare(&Val::Num(30.001), Op::Le, &Constant::Num(30.0)));
        assert!(!compare(&Val::Str("a"), Op::Eq, &Constant::Num(1.0)));
    }
}
