//! The Rhai side of the engine: the one function that builds the sandboxed engine, the record
//! types a condition sees, and rule compilation.
//!
//! Records are small handles (`Arc` of the evaluation context + indices) registered as Rhai
//! types with getters, so a condition reads `key.age_days` without any per-record map being
//! built. The getters are declared in [`crate::rules::fields`], the variables of each scope
//! in [`crate::rules::scopes`]. A getter for a field the input lacks raises a marked error
//! that the engine turns into "not evaluable" instead of a silent pass.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, OptimizationLevel, Position,
    Scope, AST,
};

use crate::inventory::time::format_stock;

use crate::rules::pack::Rule;
use crate::rules::params::{EffectiveParams, ParamValue, Patterns};
use crate::rules::record::{AccountRec, EventRec, KeyRec, UserRec};
use crate::rules::refs::{code_only, field_refs, refs_regex};
use crate::vocab::Scope as RuleScope;

/// Operations one evaluation may spend.
pub const MAX_OPERATIONS: u64 = 200_000;
/// Wall-clock time one evaluation may spend.
pub const MAX_EVAL_TIME: Duration = Duration::from_millis(250);
/// Largest condition accepted (bytes). Stock conditions are under 500 bytes; Rhai's optimizer
/// takes time quadratic in the number of statements of a block, so a pack-sized condition
/// (a million bytes of `1;`) would take minutes to compile.
pub const MAX_CONDITION_BYTES: usize = 16 * 1024;
/// Largest message template accepted (bytes): every finding of the rule carries one.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// Records of a batch on which a rule may exceed a sandbox limit (operations, wall clock, data
/// size, call depth) before it is no longer run on the rest of the batch: each such record
/// costs up to [`MAX_EVAL_TIME`], so a runaway condition would otherwise cost that much on
/// every record of the inventory.
pub const MAX_LIMIT_HITS: u32 = 2;
/// Longest error text kept from a failed evaluation (a condition can `throw` 64 kB on every
/// record).
pub const MAX_ERROR_CHARS: usize = 500;
/// Variables a condition may have in scope at once (the scope's own three or fewer, `p`, and
/// its `let`s and loop variables; the stock packs need at most 11).
pub const MAX_VARIABLES: usize = 32;
/// Functions a condition may define (the stock packs define none).
pub const MAX_FUNCTIONS: usize = 8;
/// Nested function calls (the stock packs nest native calls 2 deep).
pub const MAX_CALL_LEVELS: usize = 8;
/// Nesting of expressions, and of expressions in function bodies.
pub const MAX_EXPR_DEPTHS: (usize, usize) = (32, 16);
/// Longest string a condition may build (names are at most 64 characters, tag values 256;
/// message values are cut at 1 kB anyway).
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// Largest array a condition may build: `users` of the `username` scope has one entry per
/// account holding the name, so a rule that filters it needs as many as the organization has
/// accounts (10,000 at the scale this tool is built for).
pub const MAX_ARRAY_SIZE: usize = 10_000;
/// Largest map a condition may build: `uniform-key-ages` counts accounts by key creation
/// date, one entry per day on which a key of the name was created (up to some 6,000 days of
/// IAM so far).
pub const MAX_MAP_SIZE: usize = 10_000;
/// Default of `--rule-budget-ops`: operations one rule may spend over a whole run. The stock
/// and cis-aws rules spend at most ~20 per user or key of the inventory (measured on the
/// example inventory and a generated one, `tests/rule_engine.rs`), so on a 10,000-account
/// organization of 100 users with 2 keys each (3 M users and keys) a rule spends some 60 M:
/// a sixteenth of this. A rule that spends the per-evaluation limit on every record reaches it
/// after 5,000 records.
pub const DEFAULT_RULE_BUDGET_OPS: u64 = 1_000_000_000;
/// Largest `--rule-budget-ops` accepted: at tens of millions of operations per second and
/// core, hours of one rule.
pub const MAX_RULE_BUDGET_OPS: u64 = 1_000_000_000_000;

/// Parses a rule budget (`--rule-budget-ops`, `rule_budget_ops`): a whole number from 1 to
/// [`MAX_RULE_BUDGET_OPS`], `_` allowed between digits.
pub fn parse_rule_budget_ops(s: &str) -> Result<u64, String> {
    let digits: String = s.trim().chars().filter(|c| *c != '_').collect();
    let n: u64 = digits.parse().map_err(|_| {
        format!("`{s}` is not a whole number of operations (e.g. {DEFAULT_RULE_BUDGET_OPS})")
    })?;
    if n == 0 {
        return Err(format!(
            "`{s}`: a budget of 0 would stop every rule; the default is {DEFAULT_RULE_BUDGET_OPS}"
        ));
    }
    if n > MAX_RULE_BUDGET_OPS {
        return Err(format!(
            "`{s}` is above the largest budget, {MAX_RULE_BUDGET_OPS} (hours of one rule); the \
             default is {DEFAULT_RULE_BUDGET_OPS}"
        ));
    }
    Ok(n)
}

/// Effective params as a condition sees them (`p.name`), shared, never copied per record.
#[derive(Clone)]
pub struct ParamsRec(pub Arc<BTreeMap<String, Dynamic>>);

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

thread_local! {
    /// [`clock_ms`] when the running evaluation did its first operation.
    static EVAL_STARTED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Milliseconds since the clock thread started, advanced by that thread every few
/// milliseconds: the wall-clock limit is checked on every operation for the price of an
/// atomic load (one native operation on a 10,000-element array can take milliseconds, so
/// checking only every N operations would let an evaluation overrun by N times that).
static CLOCK_MS: AtomicU64 = AtomicU64::new(0);

fn clock_ms() -> u64 {
    CLOCK_MS.load(Ordering::Relaxed)
}

/// Starts the clock thread once per process. Should it fail to start, the clock stands still
/// and only the operations limit applies.
fn start_clock() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let origin = Instant::now();
        let _ = std::thread::Builder::new()
            .name("iam-audit-clock".into())
            .stack_size(64 * 1024)
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(5));
                CLOCK_MS.store(origin.elapsed().as_millis() as u64, Ordering::Relaxed);
            });
    });
}

/// Must be called before each evaluation so the wall-clock limit measures that evaluation.
pub fn start_evaluation() {
    EVAL_STARTED.with(|c| c.set(None));
}

/// Builds the sandboxed engine: no modules, no `eval`, no printing, strict variables, limits
/// on operations, depth, call levels and sizes, a wall-clock limit, and the record types.
pub fn build_engine() -> Engine {
    let mut engine = Engine::new_raw();
    // One flattened module: every function call resolves with one lookup, not one per package.
    let mut std_lib = rhai::Module::new();
    for module in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
    ] {
        std_lib.combine_flatten((*module).clone());
    }
    std_lib.build_index();
    engine.register_global_module(std_lib.into());
    engine
        .set_optimization_level(OptimizationLevel::Full)
        .set_strict_variables(true)
        .set_max_operations(MAX_OPERATIONS)
        .set_max_expr_depths(MAX_EXPR_DEPTHS.0, MAX_EXPR_DEPTHS.1)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_string_size(MAX_STRING_BYTES)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_MAP_SIZE)
        .set_max_variables(MAX_VARIABLES)
        .set_max_functions(MAX_FUNCTIONS)
        .on_print(|_| {})
        .on_debug(|_, _, _| {});
    // Not available: a condition that uses them does not compile.
    for symbol in ["eval", "print", "debug"] {
        engine.disable_symbol(symbol);
    }
    start_clock();
    quiet_rule_panics();
    engine.on_progress(|ops| {
        // Every fourth operation: a quarter of the cost, and an overrun of at most three
        // operations.
        if ops % 4 != 0 {
            return None;
        }
        let now = clock_ms();
        EVAL_STARTED.with(|c| match c.get() {
            None => {
                c.set(Some(now));
                None
            }
            Some(t) if now.saturating_sub(t) > MAX_EVAL_TIME.as_millis() as u64 => Some(
                Dynamic::from(format!("{WALL_CLOCK} of {} ms", MAX_EVAL_TIME.as_millis())),
            ),
            Some(_) => None,
        })
    });
    register_types(&mut engine);
    engine
}

fn register_types(engine: &mut Engine) {
    engine.register_type_with_name::<ParamsRec>("Params");
    engine.register_indexer_get(|p: &mut ParamsRec, name: &str| -> RhaiResult<Dynamic> {
        p.0.get(name).cloned().ok_or_else(|| {
            EvalAltResult::ErrorRuntime(format!("no param `{name}`").into(), Position::NONE).into()
        })
    });
    engine.register_type_with_name::<Patterns>("Patterns");
    engine.register_fn("is_match", |p: &mut Patterns, s: &str| p.is_match(s));
    engine.register_fn("is_match", |p: &mut Patterns, (): ()| {
        let _ = p;
        false
    });
    engine.register_fn("len", |p: &mut Patterns| p.0.len() as i64);
    engine.register_fn("is_empty", |p: &mut Patterns| p.0.is_empty());

    crate::rules::fields::register_records(engine);
}

/// A rule compiled with its effective params.
pub struct CompiledRule {
    pub rule: Arc<Rule>,
    /// What findings of this rule carry.
    pub info: Arc<crate::finding::RuleInfo>,
    pub params: EffectiveParams,
    pub p: ParamsRec,
    pub condition: AST,
    pub message: Vec<MessagePart>,
    /// `(name, expression)` of the values recorded as evidence when the rule fires.
    pub evidence: Vec<(Arc<str>, AST)>,
    /// The condition's simple leading tests, checked in Rust before Rhai runs.
    pub prefilter: Option<crate::rules::prefilter::Prefilter>,
    /// Every message placeholder then every evidence expression, as one array expression:
    /// one evaluation per finding instead of one per value.
    pub details: Option<AST>,
}

/// A piece of a message template.
pub enum MessagePart {
    Text(String),
    Expr(String, AST),
}

/// The scope a condition is compiled against: `p` plus the scope's variables.
///
/// `p` is a constant object map here, so the optimizer folds `p.name` into the value where it
/// can; what it cannot fold (a method call on a param) reads the [`ParamsRec`] pushed at run
/// time, which answers the same names with the same values.
pub fn compile_scope(rule_scope: RuleScope, p: &ParamsRec) -> Scope<'static> {
    let mut scope = Scope::new();
    let map: Map =
        p.0.iter()
            .map(|(k, v)| (k.as_str().into(), v.clone()))
            .collect();
    scope.push_constant("p", map);
    for var in crate::rules::scopes::def(rule_scope).variables {
        scope.push_dynamic(var.name, Dynamic::UNIT);
    }
    scope
}

/// The run-time `p` of a set of effective params.
pub fn params_rec(params: &EffectiveParams) -> ParamsRec {
    ParamsRec(Arc::new(
        params
            .iter()
            .map(|(k, v)| (k.clone(), param_dynamic(v)))
            .collect(),
    ))
}

fn param_dynamic(v: &ParamValue) -> Dynamic {
    match v {
        ParamValue::Int(i) => Dynamic::from_int(*i),
        ParamValue::Float(f) => Dynamic::from_float(*f),
        ParamValue::Bool(b) => Dynamic::from_bool(*b),
        ParamValue::String(s) => Dynamic::from(s.clone()),
        ParamValue::Strings(v) => Dynamic::from_array(
            v.iter()
                .map(|s| Dynamic::from(ImmutableString::from(s.as_str())))
                .collect(),
        ),
        ParamValue::Regexes(p) => Dynamic::from(p.clone()),
    }
}

/// Checks that every `var.field` a condition reads exists for the rule's scope (variables
/// without a record type are not checked).
pub fn check_fields(rule: &Rule) -> Vec<String> {
    let vars = crate::rules::scopes::def(rule.scope).variables;
    let code = code_only(&rule.condition);
    let mut problems = Vec::new();
    for c in refs_regex().captures_iter(&code) {
        let var = &c[1];
        if var == "p" {
            continue;
        }
        let Some(kind) = vars
            .iter()
            .find(|v| v.name == var)
            .and_then(super::scopes::Variable::record)
        else {
            continue;
        };
        if let (Some(f), None) = (c.get(2), c.get(3)) {
            if kind.field(f.as_str()).is_none() {
                problems.push(format!(
                    "{}:{}: `{var}.{}` is not a field of `{var}` in scope `{}` (fields: {})",
                    rule.file,
                    rule.position_of_offset(c.get(0).map_or(0, |m| m.start())),
                    f.as_str(),
                    rule.scope,
                    kind.fields()
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    problems
}

/// Functions the sandbox knows, as `(name, number of parameters)`: the standard packages'
/// and the record types' (the engine is always built by [`build_engine`]).
fn known_functions(engine: &Engine) -> &'static BTreeSet<(String, usize)> {
    static KNOWN: std::sync::OnceLock<BTreeSet<(String, usize)>> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        engine
            .collect_fn_metadata(
                None,
                |f| Some((f.metadata.name.to_string(), f.metadata.num_params)),
                true,
            )
            .into_iter()
            .collect()
    })
}

/// Calls the engine itself answers (not registered functions); `eval`, `print` and `debug`
/// are refused elsewhere with their own message.
const INTRINSICS: &[&str] = &[
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "eval",
    "print",
    "debug",
];

/// Calls of functions that do not exist (by name and number of arguments), found before any
/// record is evaluated: `(message, line, column)` in the script. Without this, `sleep(1)` or
/// a typo like `user.name.starts_wth("svc")` would fail on every record at run time.
pub fn unknown_functions(engine: &Engine, ast: &AST) -> Vec<(String, usize, usize)> {
    use rhai::{ASTNode, Expr, Stmt};
    let known = known_functions(engine);
    let defined: BTreeSet<(String, usize)> = ast
        .iter_functions()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    let mut found = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) => Some((x, *pos, 0)),
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) => Some((x, *pos, 1)),
            Some(ASTNode::Stmt(Stmt::FnCall(x, pos))) => Some((x, *pos, 0)),
            _ => None,
        };
        if let Some((x, pos, this)) = call {
            let name = x.name.as_str();
            let arity = x.args.len() + this;
            let identifier = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            let exists = |n: usize| {
                known.contains(&(name.to_string(), n)) || defined.contains(&(name.to_string(), n))
            };
            if x.op_token.is_none() && identifier && !INTRINSICS.contains(&name) && !exists(arity) {
                let arities: Vec<String> = known
                    .range((name.to_string(), 0)..=(name.to_string(), usize::MAX))
                    .chain(defined.iter().filter(|(n, _)| n == name))
                    .map(|(_, n)| (n - this.min(*n)).to_string())
                    .collect();
                let message = if arities.is_empty() {
                    let near = known
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .filter(|n| !n.contains('$'))
                        .map(|n| (edit_distance(n, name), n))
                        .filter(|(d, _)| *d <= 2)
                        .min();
                    match near {
                        Some((_, n)) => format!("unknown function `{name}`; did you mean `{n}`?"),
                        None => {
                            format!("unknown function `{name}` (the sandbox has no such function)")
                        }
                    }
                } else {
                    format!(
                        "`{name}` takes {} argument(s){}, not {}",
                        arities.join(" or "),
                        if this == 1 {
                            " after the value it is called on"
                        } else {
                            ""
                        },
                        arity - this
                    )
                };
                found.push((
                    message,
                    pos.line().unwrap_or(1),
                    pos.position().unwrap_or(1),
                ));
            }
        }
        true
    });
    found
}

/// Levenshtein distance of two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Compiles one rule with its effective params. Errors name the rule file and position.
pub fn compile_rule(
    engine: &Engine,
    rule: Arc<Rule>,
    params: EffectiveParams,
    shared: Option<ParamsRec>,
) -> Result<CompiledRule, Vec<String>> {
    let mut too_big = Vec::new();
    if rule.condition.len() > MAX_CONDITION_BYTES {
        too_big.push(format!(
            "{}:{}: condition is {} bytes; a condition may be at most {MAX_CONDITION_BYTES}",
            rule.file,
            rule.position(1, 1),
            rule.condition.len()
        ));
    }
    if rule.message.len() > MAX_MESSAGE_BYTES {
        too_big.push(format!(
            "{}: message is {} bytes; a message may be at most {MAX_MESSAGE_BYTES}",
            rule.file,
            rule.message.len()
        ));
    }
    if !too_big.is_empty() {
        return Err(too_big);
    }
    let p = shared.unwrap_or_else(|| params_rec(&params));
    let scope = compile_scope(rule.scope, &p);
    let mut problems = check_fields(&rule);
    let condition = match engine.compile_with_scope(&scope, &rule.condition) {
        Ok(ast) => {
            problems.extend(unknown_functions(engine, &ast).into_iter().map(
                |(message, line, col)| {
                    format!("{}:{}: {message}", rule.file, rule.position(line, col))
                },
            ));
            Some(ast)
        }
        Err(e) => {
            let pos = e.position();
            // An error at the end of input is reported on the last line, not after it.
            let pos = match (pos.line(), pos.position()) {
                (Some(l), c) => rule.position(l, c.unwrap_or(1)),
                (None, _) => rule.position(1, 1),
            };
            problems.push(format!(
                "{}:{pos}: condition does not compile: {}",
                rule.file,
                e.err_type()
            ));
            None
        }
    };
    let mut message = Vec::new();
    let mut rest = rule.message.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            problems.push(format!("{}: message has an unclosed `{{`", rule.file));
            break;
        };
        if open > 0 {
            message.push(MessagePart::Text(rest[..open].to_string()));
        }
        let expr = rest[open + 1..open + close].trim();
        match engine.compile_expression_with_scope(&scope, expr) {
            Ok(ast) => {
                for (problem, ..) in unknown_functions(engine, &ast) {
                    problems.push(format!(
                        "{}: message placeholder `{{{expr}}}`: {problem}",
                        rule.file
                    ));
                }
                message.push(MessagePart::Expr(expr.to_string(), ast));
            }
            Err(e) => problems.push(format!(
                "{}: message placeholder `{{{expr}}}` does not compile: {}",
                rule.file,
                e.err_type()
            )),
        }
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        message.push(MessagePart::Text(rest.to_string()));
    }
    let mut evidence = Vec::new();
    for name in field_refs(&rule.condition) {
        if name == "p" {
            continue;
        }
        match engine.compile_expression_with_scope(&scope, &name) {
            Ok(ast) => evidence.push((Arc::from(name.as_str()), ast)),
            Err(e) => problems.push(format!(
                "{}: evidence `{name}` does not compile: {}",
                rule.file,
                e.err_type()
            )),
        }
    }
    let details_src = message
        .iter()
        .filter_map(|m| match m {
            MessagePart::Expr(src, _) => Some(src.as_str()),
            MessagePart::Text(_) => None,
        })
        .chain(evidence.iter().map(|(name, _)| &**name))
        .map(|e| format!("({e})"))
        .collect::<Vec<_>>()
        .join(", ");
    let details = engine
        .compile_expression_with_scope(&scope, format!("[{details_src}]"))
        .ok();
    let prefilter = crate::rules::prefilter::extract(
        &rule.condition,
        &code_only(&rule.condition),
        rule.scope,
        &params,
    );
    match (condition, problems.is_empty()) {
        (Some(condition), true) => Ok(CompiledRule {
            prefilter,
            info: Arc::new(rule.info()),
            rule,
            params,
            p,
            condition,
            message,
            evidence,
            details,
        }),
        _ => Err(problems),
    }
}

/// Converts a value a condition produced into JSON for evidence.
pub fn to_json(v: &Dynamic) -> serde_json::Value {
    use serde_json::Value;
    if v.is_unit() {
        return Value::Null;
    }
    if let Ok(b) = v.as_bool() {
        return Value::Bool(b);
    }
    if let Ok(i) = v.as_int() {
        return Value::from(i);
    }
    if let Ok(f) = v.as_float() {
        return Value::from((f * 100.0).round() / 100.0);
    }
    if let Some(s) = v.read_lock::<ImmutableString>() {
        return Value::String(s.to_string());
    }
    if let Some(a) = v.read_lock::<Array>() {
        return Value::Array(a.iter().map(to_json).collect());
    }
    if let Some(m) = v.read_lock::<Map>() {
        return Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect());
    }
    if let Some(k) = v.read_lock::<KeyRec>() {
        let key = k.key();
        let mut value = serde_json::json!({
            "id": key.id,
            "status": key.status.as_str(),
            "created": format_stock(&key.created),
            "last_used": key.last_used.as_ref().map(format_stock),
            "service": key.last_used_service,
        });
        if key.last_used_unknown {
            // Never `null` alone, which reads as "never used".
            value["last_used_unknown"] = Value::Bool(true);
        }
        return value;
    }
    if let Some(u) = v.read_lock::<UserRec>() {
        let user = u.user();
        let keys: Vec<Value> = u.keys().iter().map(to_json).collect();
        return serde_json::json!({
            "account_id": u.account().id,
            "name": user.name,
            "keys": keys,
        });
    }
    if let Some(a) = v.read_lock::<AccountRec>() {
        return serde_json::json!({ "id": a.account().id, "name": a.account().name });
    }
    if let Some(e) = v.read_lock::<EventRec>() {
        let ev = e.event();
        let mut value = serde_json::json!({ "time": format_stock(&ev.time), "name": ev.name, "actor": ev.actor });
        if let Some(code) = &ev.error_code {
            value["error_code"] = Value::String(code.clone());
        }
        return value;
    }
    if let Some(p) = v.read_lock::<Patterns>() {
        return Value::from(p.sources());
    }
    Value::String(v.to_string())
}

/// Renders a value into a message.
pub fn to_text(v: &Dynamic) -> String {
    if v.is_unit() {
        return "never".to_string();
    }
    if let Ok(f) = v.as_float() {
        let r = (f * 10.0).round() / 10.0;
        return if r.fract() == 0.0 {
            format!("{}", r as i64)
        } else {
            format!("{r:.1}")
        };
    }
    match to_json(v) {
        serde_json::Value::String(s) => s,
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Runs compiled conditions with Rhai's function-resolution caches kept from one record to
/// the next (one cache per slot, i.e. per compiled script), instead of building them anew for
/// every evaluation as `Engine::eval_ast_with_scope` does. Limits are reset per evaluation.
pub struct Evaluator<'e> {
    engine: &'e Engine,
    global: rhai::GlobalRuntimeState,
    caches: Vec<rhai::Caches>,
    /// Per slot: evaluations that exceeded a sandbox limit, and the first such error.
    limit_hits: Vec<(u32, String)>,
    /// Operations the last evaluation spent.
    last_operations: u64,
}

impl<'e> Evaluator<'e> {
    /// An evaluator with `slots` independent caches.
    pub fn new(engine: &'e Engine, slots: usize) -> Evaluator<'e> {
        Evaluator {
            engine,
            global: engine.new_global_runtime_state(),
            caches: (0..slots).map(|_| rhai::Caches::new()).collect(),
            limit_hits: vec![(0, String::new()); slots],
            last_operations: 0,
        }
    }

    /// Operations the last call of [`Evaluator::eval`] spent (0 when it did not run).
    pub fn last_operations(&self) -> u64 {
        self.last_operations
    }

    /// Evaluates `ast` in `scope` with the cache of `slot`. Once evaluations of a slot have
    /// exceeded a sandbox limit [`MAX_LIMIT_HITS`] times, it fails at once instead. Errors
    /// are cut to [`MAX_ERROR_CHARS`].
    pub fn eval(&mut self, slot: usize, scope: &mut Scope, ast: &AST) -> RhaiResult<Dynamic> {
        self.last_operations = 0;
        let (hits, first) = &self.limit_hits[slot];
        if *hits >= MAX_LIMIT_HITS {
            let first = first.strip_prefix("Runtime error: ").unwrap_or(first);
            return Err(EvalAltResult::ErrorSystem(
                String::new(),
                format!(
                    "not evaluated: the condition exceeded a sandbox limit on {hits} earlier \
                     records ({first})"
                )
                .into(),
            )
            .into());
        }
        let len = scope.len();
        let mut result = self.eval_caught(slot, scope, ast);
        if result.as_ref().is_err_and(|e| wall_clock(e)) {
            // Once more: a thread the machine left waiting (a loaded CI runner) is not a slow
            // rule; a slow rule is stopped again, and the same inputs give the same result.
            scope.rewind(len);
            result = self.eval_caught(slot, scope, ast);
        }
        let result = result.map_err(|mut e| {
            bound_error(&mut e);
            e
        });
        if let Err(e) = &result {
            if exceeds_limit(e) {
                let (hits, first) = &mut self.limit_hits[slot];
                if *hits == 0 {
                    *first = e.to_string();
                }
                *hits += 1;
            }
        }
        result
    }

    /// [`Evaluator::eval_raw`] with a panic turned into the rule's error.
    fn eval_caught(&mut self, slot: usize, scope: &mut Scope, ast: &AST) -> RhaiResult<Dynamic> {
        match catch_rule_panic(|| self.eval_raw(slot, scope, ast)) {
            Ok(result) => result,
            Err(message) => {
                // The run-time state may be half-updated: start afresh.
                self.global = self.engine.new_global_runtime_state();
                self.caches[slot] = rhai::Caches::new();
                Err(panicked(&message).into())
            }
        }
    }

    fn eval_raw(&mut self, slot: usize, scope: &mut Scope, ast: &AST) -> RhaiResult<Dynamic> {
        start_evaluation();
        let global = &mut self.global;
        global.num_operations = Default::default();
        global.level = 0;
        global.scope_level = 0;
        global.lib.clear();
        global.lib.push(ast.shared_lib().clone());
        let caches = &mut self.caches[slot];
        #[allow(deprecated)]
        let result = self
            .engine
            .eval_statements_raw(global, caches, scope, ast.statements());
        global.lib.clear();
        self.last_operations = global.num_operations;
        result
    }
}

/// The rule error of an evaluation that panicked.
pub fn panicked(message: &str) -> EvalAltResult {
    let message: String = message.chars().take(MAX_ERROR_CHARS).collect();
    EvalAltResult::ErrorRuntime(
        format!("{PANICKED}: {message} (the record is left unevaluated; the run goes on)").into(),
        Position::NONE,
    )
}

/// Start of the error of an evaluation that panicked.
pub const PANICKED: &str = "evaluation aborted by a panic";

thread_local! {
    /// Set while a rule is evaluated on this thread: a panic there is the rule's error,
    /// caught and reported, not a crash to print.
    static IN_RULE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (one evaluation of a rule), turning a panic inside it (a native function given
/// values it cannot handle, such as `sort()` of an array with NaN) into its message.
pub fn catch_rule_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let outer = IN_RULE.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_RULE.with(|c| c.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

/// Installs, once, a panic hook that stays silent for panics inside a rule's evaluation
/// (they are caught and reported as rule errors) and leaves every other panic to the hook
/// that was there before.
fn quiet_rule_panics() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RULE.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Whether an evaluation failed on a sandbox limit (as opposed to an error of its logic).
fn exceeds_limit(e: &EvalAltResult) -> bool {
    use EvalAltResult as E;
    match e {
        E::ErrorInFunctionCall(_, _, inner, _) => exceeds_limit(inner),
        E::ErrorTooManyOperations(_)
        | E::ErrorStackOverflow(_)
        | E::ErrorDataTooLarge(..)
        | E::ErrorTooManyVariables(_) => true,
        E::ErrorRuntime(v, _) => v
            .read_lock::<ImmutableString>()
            .is_some_and(|s| s.starts_with(WALL_CLOCK)),
        _ => false,
    }
}

/// Whether an evaluation was stopped by the wall-clock limit.
fn wall_clock(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => wall_clock(inner),
        EvalAltResult::ErrorRuntime(v, _) => v
            .read_lock::<ImmutableString>()
            .is_some_and(|s| s.starts_with(WALL_CLOCK)),
        _ => false,
    }
}

/// Start of the error of an evaluation stopped by the wall-clock limit.
const WALL_CLOCK: &str = "evaluation exceeded the wall-clock limit";

/// Bounds the text of an error, in place (no allocation for the common, short errors): a
/// thrown value is cut to [`MAX_ERROR_CHARS`], and a stop by the wall-clock limit says so
/// (Rhai shows only "Script terminated").
fn bound_error(e: &mut EvalAltResult) {
    use EvalAltResult as E;
    let replacement = match e {
        E::ErrorInFunctionCall(_, _, inner, _) => {
            bound_error(inner);
            None
        }
        E::ErrorTerminated(token, pos) => Some(E::ErrorRuntime(token.to_string().into(), *pos)),
        E::ErrorRuntime(v, _) => {
            let short = v
                .read_lock::<ImmutableString>()
                .is_some_and(|s| s.len() <= MAX_ERROR_CHARS);
            if !short {
                let text = v.to_string();
                if text.len() > MAX_ERROR_CHARS {
                    let cut: String = text.chars().take(MAX_ERROR_CHARS).collect();
                    *v = format!("{cut}... ({} bytes in all)", text.len()).into();
                }
            }
            None
        }
        _ => None,
    };
    if let Some(r) = replacement {
        *e = r;
    }
}
