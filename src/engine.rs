//! The engine: evaluates compiled rules over an inventory at one `as_of` instant. Pure: no
//! I/O, no clock, no async. Records are evaluated in parallel (rayon) and the report is
//! sorted, so the output never depends on scheduling.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use rhai::{Array, Dynamic, Scope};

use crate::analysis::metrics::{Classifier, Metrics};
use crate::finding::{Finding, Subject};
use crate::inventory::{AccessKey, Field, Inventory, User};
use crate::rules::prefilter::Verdict;
use crate::rules::record::{AccountRec, EvalCtx, EventRec, KeyRec, UserRec, UNAVAILABLE};
use crate::rules::scopes;
use crate::rules::script::{to_json, to_text, CompiledRule, Evaluator, MessagePart, ParamsRec};
use crate::rules::CompiledRules;
use crate::vocab::Scope as RuleScope;

/// Records evaluated per parallel work item.
const CHUNK: usize = 2048;
/// Run-time errors kept per rule (the rest are counted).
const ERRORS_KEPT_PER_RULE: usize = 5;

/// Options of one evaluation.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// The instant every age is measured from.
    pub as_of: DateTime<Utc>,
    pub classifier: Classifier,
}

/// A rule that could not be evaluated for some or all records because the input lacks a
/// field it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEvaluable {
    pub rule_id: String,
    /// Records the rule could not be evaluated for (0 with `whole_rule`).
    pub records: u64,
    /// The rule could not run at all (e.g. an event rule without events).
    pub whole_rule: bool,
    /// The missing fields, by their dotted names.
    pub fields: BTreeSet<String>,
}

impl NotEvaluable {
    /// What could not be evaluated: `the whole rule` or `N record(s)`.
    pub fn extent(&self) -> String {
        if self.whole_rule {
            "the whole rule".to_string()
        } else {
            format!("{} record(s)", self.records)
        }
    }
}

/// A rule that failed at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub rule_id: String,
    /// The record it failed on (`account/user/key`).
    pub record: String,
    pub message: String,
    /// Further failures of the same rule not listed.
    pub more: u64,
}

/// Per-rule counts of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRun {
    pub rule_id: String,
    pub evaluations: u64,
    pub findings: u64,
    /// Rhai operations the rule spent (records a prefilter decided cost none).
    pub operations: u64,
}

/// The result of an evaluation.
pub struct Report {
    pub as_of: DateTime<Utc>,
    pub inventory: Arc<Inventory>,
    /// Sorted: most severe first, then rule, then subject.
    pub findings: Vec<Finding>,
    pub not_evaluable: Vec<NotEvaluable>,
    pub rule_errors: Vec<RuleError>,
    pub runs: Vec<RuleRun>,
    /// Whether each account is production, in the order of `inventory.accounts`.
    pub production: Vec<bool>,
    /// Each account's metrics (rules read them), in the order of `inventory.accounts`.
    pub account_metrics: Vec<Metrics>,
    /// The events indexed by key and user, when a rule's field built it.
    pub lifecycle: Option<Arc<crate::analysis::lifecycle::Lifecycle>>,
}

#[derive(Default)]
struct Partial {
    findings: Vec<Finding>,
    /// (rule index, missing field)
    unavailable: Vec<(usize, String)>,
    /// (rule index, record, message)
    errors: Vec<(usize, String, String)>,
    /// (rule index, evaluations)
    evaluations: Vec<(usize, u64)>,
}

/// Each rule's operations over the whole run, against the budget (`--rule-budget-ops`):
/// the per-evaluation limits bound one record, this bounds the run.
struct Budget {
    limit: u64,
    spent: Vec<AtomicU64>,
    /// The rule went over the budget: none of its remaining evaluations run.
    stopped: Vec<AtomicBool>,
}

impl Budget {
    fn new(rules: usize, limit: u64) -> Budget {
        Budget {
            limit,
            spent: (0..rules).map(|_| AtomicU64::new(0)).collect(),
            stopped: (0..rules).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Operations a batch spends before it adds them to the rule's total: few shared writes,
    /// and an overrun of at most this much per worker thread.
    fn flush_every(&self) -> u64 {
        (self.limit / 64).clamp(1, 1 << 20)
    }

    fn add(&self, rule: usize, ops: u64) {
        let total = self.spent[rule].fetch_add(ops, Ordering::Relaxed) + ops;
        if total > self.limit {
            self.stopped[rule].store(true, Ordering::Relaxed);
        }
    }

    fn is_stopped(&self, rule: usize) -> bool {
        self.stopped[rule].load(Ordering::Relaxed)
    }
}

impl Partial {
    fn merge(mut self, mut o: Partial) -> Partial {
        self.findings.append(&mut o.findings);
        self.unavailable.append(&mut o.unavailable);
        self.errors.append(&mut o.errors);
        self.evaluations.append(&mut o.evaluations);
        self
    }
}

/// The variables one record binds.
type Vars = Vec<(&'static str, Dynamic)>;

/// Evaluates every compiled rule over the inventory.
pub fn evaluate(inv: Arc<Inventory>, compiled: &CompiledRules, opts: &EvalOptions) -> Report {
    let ctx = Arc::new(EvalCtx::new(inv.clone(), opts.as_of, &opts.classifier));
    let by_scope = |s: RuleScope| -> Vec<(usize, &CompiledRule)> {
        let mut rules: Vec<(usize, &CompiledRule)> = compiled
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.rule.scope == s)
            .collect();
        // Rules sharing params next to each other (stable: load order within a group).
        rules.sort_by_key(|(_, r)| Arc::as_ptr(&r.p.0) as usize);
        rules
    };
    let budget = Budget::new(compiled.rules.len(), compiled.rule_budget_ops());
    let mut total = Partial::default();
    for scope in RuleScope::ALL {
        let rules = by_scope(scope);
        if rules.is_empty() {
            continue;
        }
        if scope == RuleScope::Event && !inv.has(Field::Events) {
            for (i, _) in &rules {
                total
                    .unavailable
                    .push((*i, Field::Events.as_str().to_string()));
                total.evaluations.push((*i, 0));
            }
            continue;
        }
        let part = match scope {
            RuleScope::Key => {
                let ids: Vec<(u32, u32, u32)> = key_ids(&inv);
                run(
                    (compiled, &budget),
                    &rules,
                    &ids,
                    |&(a, u, k)| key_record(&ctx, a, u, k),
                    |&(a, u, k)| key_subject(&ctx, a, u, k),
                    |&(a, u, k)| {
                        let user = &inv.accounts[a as usize].users[u as usize];
                        Some((user, Some(&user.access_keys[k as usize])))
                    },
                    &opts.as_of,
                )
            }
            RuleScope::User => {
                let ids: Vec<(u32, u32)> = user_ids(&inv);
                run(
                    (compiled, &budget),
                    &rules,
                    &ids,
                    |&(a, u)| user_record(&ctx, a, u),
                    |&(a, u)| user_subject(&ctx, a, u),
                    |&(a, u)| Some((&inv.accounts[a as usize].users[u as usize], None)),
                    &opts.as_of,
                )
            }
            RuleScope::Username => {
                let groups = username_groups(&inv);
                run(
                    (compiled, &budget),
                    &rules,
                    &groups,
                    |(name, members)| group_record(&ctx, name, members),
                    |(name, _)| group_subject(name),
                    |_| None,
                    &opts.as_of,
                )
            }
            RuleScope::Account => {
                let ids: Vec<u32> = (0..inv.accounts.len() as u32).collect();
                run(
                    (compiled, &budget),
                    &rules,
                    &ids,
                    |&a| account_record(&ctx, a),
                    |&a| account_subject(&ctx, a),
                    |_| None,
                    &opts.as_of,
                )
            }
            RuleScope::Event => {
                let index: HashMap<&str, u32> = inv
                    .accounts
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a.id.as_str(), i as u32))
                    .collect();
                // A failed call (CloudTrail `errorCode`, a failed sign-in) changed nothing: an
                // event rule sees only successful calls unless it asks for failures too.
                let all: Vec<u32> = (0..inv.events.len() as u32).collect();
                let succeeded: Vec<u32> = all
                    .iter()
                    .copied()
                    .filter(|&e| !inv.events[e as usize].failed())
                    .collect();
                let (with_failed, without): (Vec<_>, Vec<_>) = rules
                    .iter()
                    .copied()
                    .partition(|(_, r)| r.rule.include_failed);
                let mut part = Partial::default();
                for (group, ids) in [(without, &succeeded), (with_failed, &all)] {
                    if group.is_empty() {
                        continue;
                    }
                    part = part.merge(run(
                        (compiled, &budget),
                        &group,
                        ids,
                        |&e| event_record(&ctx, &index, e),
                        |&e| event_subject(&ctx, e),
                        |_| None,
                        &opts.as_of,
                    ));
                }
                part
            }
        };
        total = total.merge(part);
    }
    let (production, account_metrics) = (ctx.production.clone(), ctx.metrics.clone());
    Report {
        lifecycle: ctx.built_lifecycle(),
        ..finish(
            inv,
            compiled,
            total,
            &budget,
            (production, account_metrics),
            opts.as_of,
        )
    }
}

fn key_ids(inv: &Inventory) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::with_capacity(inv.key_count());
    for (a, acct) in inv.accounts.iter().enumerate() {
        for (u, user) in acct.users.iter().enumerate() {
            for k in 0..user.access_keys.len() {
                out.push((a as u32, u as u32, k as u32));
            }
        }
    }
    out
}

fn user_ids(inv: &Inventory) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(inv.user_count());
    for (a, acct) in inv.accounts.iter().enumerate() {
        for u in 0..acct.users.len() {
            out.push((a as u32, u as u32));
        }
    }
    out
}

/// User names present in at least two accounts, with their (account, user) indices.
fn username_groups(inv: &Inventory) -> Vec<(String, Vec<(u32, u32)>)> {
    // Sorting (name, account, user) once beats a map of a million names.
    let mut all: Vec<(&str, u32, u32)> = Vec::with_capacity(inv.user_count());
    for (a, acct) in inv.accounts.iter().enumerate() {
        for (u, user) in acct.users.iter().enumerate() {
            all.push((user.name.as_str(), a as u32, u as u32));
        }
    }
    all.par_sort_unstable();
    all.chunk_by(|x, y| x.0 == y.0)
        .filter(|run| run.len() >= 2)
        .map(|run| {
            (
                run[0].0.to_string(),
                run.iter().map(|&(_, a, u)| (a, u)).collect(),
            )
        })
        .collect()
}

fn account_subject(ctx: &EvalCtx, a: u32) -> Subject {
    let (id, name) = &ctx.labels[a as usize];
    Subject {
        account_id: Some(id.clone()),
        account_name: Some(name.clone()),
        ..Subject::default()
    }
}

fn key_record(ctx: &Arc<EvalCtx>, a: u32, u: u32, k: u32) -> Vars {
    let rec = KeyRec {
        ctx: ctx.clone(),
        a,
        u,
        k,
    };
    let user = rec.user_rec();
    let account = user.account_rec();
    scopes::def(RuleScope::Key).bind([
        Dynamic::from(rec),
        Dynamic::from(user),
        Dynamic::from(account),
    ])
}

fn key_subject(ctx: &EvalCtx, a: u32, u: u32, k: u32) -> Subject {
    let user = &ctx.inv.accounts[a as usize].users[u as usize];
    Subject {
        username: Some(user.name.as_str().into()),
        access_key_id: Some(user.access_keys[k as usize].id.as_str().into()),
        ..account_subject(ctx, a)
    }
}

fn user_record(ctx: &Arc<EvalCtx>, a: u32, u: u32) -> Vars {
    let rec = UserRec {
        ctx: ctx.clone(),
        a,
        u,
    };
    let account = rec.account_rec();
    scopes::def(RuleScope::User).bind([Dynamic::from(rec), Dynamic::from(account)])
}

fn user_subject(ctx: &EvalCtx, a: u32, u: u32) -> Subject {
    Subject {
        username: Some(
            ctx.inv.accounts[a as usize].users[u as usize]
                .name
                .as_str()
                .into(),
        ),
        ..account_subject(ctx, a)
    }
}

fn group_record(ctx: &Arc<EvalCtx>, name: &str, members: &[(u32, u32)]) -> Vars {
    let users: Array = members
        .iter()
        .map(|&(a, u)| {
            Dynamic::from(UserRec {
                ctx: ctx.clone(),
                a,
                u,
            })
        })
        .collect();
    scopes::def(RuleScope::Username)
        .bind([Dynamic::from(name.to_string()), Dynamic::from_array(users)])
}

fn group_subject(name: &str) -> Subject {
    Subject {
        username: Some(name.into()),
        scope_key: Some(format!("username:{name}")),
        ..Subject::default()
    }
}

fn account_record(ctx: &Arc<EvalCtx>, a: u32) -> Vars {
    scopes::def(RuleScope::Account).bind([Dynamic::from(AccountRec {
        ctx: ctx.clone(),
        a,
    })])
}

fn event_record(ctx: &Arc<EvalCtx>, index: &HashMap<&str, u32>, e: u32) -> Vars {
    let a = index
        .get(ctx.inv.events[e as usize].account_id.as_str())
        .copied();
    let account = a.map_or(Dynamic::UNIT, |a| {
        Dynamic::from(AccountRec {
            ctx: ctx.clone(),
            a,
        })
    });
    scopes::def(RuleScope::Event).bind([
        Dynamic::from(EventRec {
            ctx: ctx.clone(),
            e,
        }),
        account,
    ])
}

fn event_subject(ctx: &EvalCtx, e: u32) -> Subject {
    let ev = &ctx.inv.events[e as usize];
    Subject {
        account_id: Some(ev.account_id.as_str().into()),
        account_name: Some(ev.account_name.as_str().into()),
        username: Some(ev.actor.as_str().into()),
        access_key_id: None,
        scope_key: Some({
            let mut key = format!(
                "event:{}|{}|{}",
                ev.time.to_rfc3339(),
                ev.name,
                ev.resources.join(",")
            );
            // A failed call (seen by `include_failed` rules) is told apart from a successful
            // one at the same instant; a successful call's id is unchanged.
            if let Some(code) = failure(ev) {
                key.push('|');
                key.push_str(code);
            }
            key
        }),
    }
}

/// What a failed call failed with: its error code, or a failed sign-in's outcome.
fn failure(ev: &crate::inventory::Event) -> Option<&str> {
    if !ev.failed() {
        return None;
    }
    ev.error_code.as_deref().or(ev.login_outcome.as_deref())
}

fn describe(subject: &Subject) -> String {
    [
        subject.account_id.as_deref(),
        subject.username.as_deref(),
        subject.access_key_id.as_deref(),
    ]
    .iter()
    .flatten()
    .copied()
    .collect::<Vec<_>>()
    .join("/")
}

fn run<'i, T: Sync>(
    (compiled, budget): (&CompiledRules, &Budget),
    rules: &[(usize, &CompiledRule)],
    items: &[T],
    make: impl Fn(&T) -> Vars + Sync,
    subject: impl Fn(&T) -> Subject + Sync,
    guarded: impl Fn(&T) -> Option<(&'i User, Option<&'i AccessKey>)> + Sync,
    as_of: &DateTime<Utc>,
) -> Partial {
    let engine = &compiled.engine;
    let parts: Vec<Partial> = items
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut out = Partial::default();
            let mut counts = vec![0u64; rules.len()];
            // Operations spent and not yet added to the budget, per rule of `rules`.
            let mut unspent = vec![0u64; rules.len()];
            let flush_every = budget.flush_every();
            let mut spend = |slot: usize, index: usize, ops: u64| {
                unspent[slot] += ops;
                if unspent[slot] >= flush_every {
                    budget.add(index, std::mem::take(&mut unspent[slot]));
                }
            };
            let mut scope = Scope::new();
            let mut evaluator = Evaluator::new(engine, 2 * rules.len());
            for item in chunk {
                // Variables are bound on the first rule that passes its guard.
                let mut base = None;
                let mut bound: Option<&ParamsRec> = None;
                let record = guarded(item);
                for (slot, (index, rule)) in rules.iter().enumerate() {
                    // Counted even when the rule was stopped, so the count does not depend
                    // on when, in this parallel run, it went over its budget.
                    counts[slot] += 1;
                    if budget.is_stopped(*index) {
                        continue;
                    }
                    let verdict = match (&rule.prefilter, record) {
                        (Some(pf), Some((user, key))) => pf.check(user, key, as_of),
                        _ => Verdict::Undecided,
                    };
                    if verdict == Verdict::False {
                        continue;
                    }
                    let base = *base.get_or_insert_with(|| {
                        scope.clear();
                        for (name, value) in make(item) {
                            scope.push_dynamic(name, value);
                        }
                        scope.len()
                    });
                    // Rules are grouped by shared params: bind `p` once per group.
                    if !bound.is_some_and(|b| Arc::ptr_eq(&b.0, &rule.p.0)) {
                        scope.rewind(base);
                        scope.push_constant("p", rule.p.clone());
                        bound = Some(&rule.p);
                    }
                    let with_p = scope.len();
                    let result = if verdict == Verdict::True {
                        Ok(Dynamic::TRUE)
                    } else {
                        let result = evaluator.eval(2 * slot, &mut scope, &rule.condition);
                        spend(slot, *index, evaluator.last_operations());
                        result
                    };
                    match result.map(|d| d.as_bool().map_err(std::string::ToString::to_string)) {
                        Ok(Ok(true)) => {
                            out.findings.push(build_finding(
                                compiled,
                                &mut evaluator,
                                2 * slot + 1,
                                rule,
                                &mut scope,
                                subject(item),
                            ));
                            spend(slot, *index, evaluator.last_operations());
                        }
                        Ok(Ok(false)) => {}
                        Ok(Err(ty)) => out.errors.push((
                            *index,
                            describe(&subject(item)),
                            format!("condition returned a {ty}, not a bool"),
                        )),
                        Err(e) => match unavailable_field(&e) {
                            Some(field) => out.unavailable.push((*index, field)),
                            None => out.errors.push((
                                *index,
                                describe(&subject(item)),
                                positioned(&rule.rule, *e),
                            )),
                        },
                    }
                    scope.rewind(with_p);
                }
            }
            for (slot, (index, _)) in rules.iter().enumerate() {
                budget.add(*index, unspent[slot]);
            }
            out.evaluations = rules.iter().map(|(i, _)| *i).zip(counts).collect();
            out
        })
        .collect();
    parts.into_iter().fold(Partial::default(), Partial::merge)
}

/// A run-time error of a condition, placed in the rule's file: `file:line:col: error`.
fn positioned(rule: &crate::rules::pack::Rule, mut e: rhai::EvalAltResult) -> String {
    let pos = e.position();
    let bare = e.clear_position();
    match pos.line() {
        Some(line) => format!(
            "{}:{}: {bare}",
            rule.file,
            rule.position(line, pos.position().unwrap_or(1))
        ),
        None => format!("{}: {bare}", rule.file),
    }
}

/// The field named by a "not available" error, found without formatting the error (this
/// path runs for every record of a rule that needs a field the input lacks).
fn unavailable_field(e: &rhai::EvalAltResult) -> Option<String> {
    use rhai::EvalAltResult as E;
    match e {
        E::ErrorRuntime(v, _) => v
            .read_lock::<rhai::ImmutableString>()
            .and_then(|s| s.strip_prefix(UNAVAILABLE).map(str::to_string)),
        E::ErrorInFunctionCall(_, _, inner, _) => unavailable_field(inner),
        _ => None,
    }
}

fn build_finding(
    compiled: &CompiledRules,
    evaluator: &mut Evaluator,
    slot: usize,
    rule: &CompiledRule,
    scope: &mut Scope,
    subject: Subject,
) -> Finding {
    let engine = &compiled.engine;
    // One evaluation for every value; per value only when one of them fails.
    let values: Option<Array> = rule
        .details
        .as_ref()
        .and_then(|ast| evaluator.eval(slot, scope, ast).ok())
        .and_then(rhai::Dynamic::try_cast::<Array>);
    let mut next = values.map(std::iter::IntoIterator::into_iter);
    let mut value_of = |ast: &rhai::AST| -> Option<Dynamic> {
        match next.as_mut() {
            Some(it) => it.next(),
            None => crate::rules::script::catch_rule_panic(|| {
                engine.eval_ast_with_scope::<Dynamic>(scope, ast).ok()
            })
            .ok()
            .flatten(),
        }
    };
    let mut message = String::new();
    for part in &rule.message {
        match part {
            MessagePart::Text(t) => message.push_str(t),
            MessagePart::Expr(src, ast) => {
                if let Some(v) = value_of(ast) {
                    let mut value = to_text(&v);
                    clip(&mut value, MAX_MESSAGE_VALUE_BYTES);
                    message.push_str(&value);
                } else {
                    message.push('{');
                    message.push_str(src);
                    message.push('}');
                }
            }
        }
    }
    clip(&mut message, MAX_MESSAGE_BYTES);
    let mut text = String::from("{");
    for (name, ast) in &rule.evidence {
        if let Some(v) = value_of(ast) {
            if text.len() > 1 {
                text.push(',');
            }
            text.push_str(&serde_json::to_string(&**name).unwrap_or_default());
            text.push(':');
            let value = serde_json::to_string(&to_json(&v)).unwrap_or_else(|_| "null".into());
            if value.len() > MAX_EVIDENCE_VALUE_BYTES {
                let note = format!("({} bytes of JSON left out)", value.len());
                text.push_str(&serde_json::to_string(&note).unwrap_or_default());
            } else {
                text.push_str(&value);
            }
        }
    }
    text.push('}');
    // The text is built from serialized parts, so it is valid JSON.
    let evidence = serde_json::value::RawValue::from_string(text)
        .or_else(|_| serde_json::value::RawValue::from_string("{}".to_string()))
        .expect("`{}` is valid JSON");
    Finding::new(&rule.info, subject, message, evidence)
}

/// A message placeholder's value is cut past this many bytes, ...
pub const MAX_MESSAGE_VALUE_BYTES: usize = 1_024;
/// ... and a finding's message past this many: a rule cannot copy a huge string into every
/// finding.
pub const MAX_MESSAGE_BYTES: usize = 4_096;
/// An evidence value whose JSON is longer than this is replaced by a note of its size.
pub const MAX_EVIDENCE_VALUE_BYTES: usize = 4_096;

/// Cuts `s` to at most `max` bytes (at a character boundary), ending it with `…` when cut.
fn clip(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max - '…'.len_utf8();
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

fn finish(
    inv: Arc<Inventory>,
    compiled: &CompiledRules,
    mut total: Partial,
    budget: &Budget,
    (production, account_metrics): (Vec<bool>, Vec<Metrics>),
    as_of: DateTime<Utc>,
) -> Report {
    // A rule over its budget was stopped part-way, at a point that depends on scheduling:
    // what it produced is left out whole (the output never depends on scheduling), and the
    // rule is reported.
    let over: Vec<usize> = (0..compiled.rules.len())
        .filter(|&i| budget.is_stopped(i))
        .collect();
    if !over.is_empty() {
        let ids: BTreeSet<&str> = over
            .iter()
            .map(|&i| compiled.rules[i].rule.id.as_str())
            .collect();
        total.findings.retain(|f| !ids.contains(f.rule.id.as_str()));
        total.unavailable.retain(|(i, _)| !over.contains(i));
        total.errors.retain(|(i, _, _)| !over.contains(i));
        for &i in &over {
            let rule = &compiled.rules[i].rule;
            total.errors.push((
                i,
                "all records".to_string(),
                format!(
                    "{}: the rule exceeded its budget of {} operations for the run \
                     (--rule-budget-ops, config rule_budget_ops): its remaining evaluations \
                     were stopped and its findings are left out",
                    rule.file, budget.limit
                ),
            ));
        }
    }
    let mut findings = total.findings;
    findings.par_sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup_by(|a, b| a.id == b.id);

    let mut runs: Vec<RuleRun> = compiled
        .rules
        .iter()
        .zip(&budget.spent)
        .map(|(r, spent)| RuleRun {
            rule_id: r.rule.id.clone(),
            evaluations: 0,
            findings: 0,
            operations: spent.load(Ordering::Relaxed),
        })
        .collect();
    for (i, n) in total.evaluations {
        runs[i].evaluations += n;
    }
    let index: HashMap<&str, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.rule_id.as_str(), i))
        .collect();
    let mut counts = vec![0u64; runs.len()];
    for f in &findings {
        if let Some(&i) = index.get(f.rule.id.as_str()) {
            counts[i] += 1;
        }
    }
    for (run, n) in runs.iter_mut().zip(counts) {
        run.findings = n;
    }

    let mut not_evaluable: BTreeMap<usize, NotEvaluable> = BTreeMap::new();
    for (i, field) in total.unavailable {
        let whole = field == Field::Events.as_str() && runs[i].evaluations == 0;
        let entry = not_evaluable.entry(i).or_insert_with(|| NotEvaluable {
            rule_id: compiled.rules[i].rule.id.clone(),
            records: 0,
            whole_rule: whole,
            fields: BTreeSet::new(),
        });
        if !whole {
            entry.records += 1;
        }
        entry.fields.insert(field);
    }

    let mut errors: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    for (i, record, message) in total.errors {
        errors.entry(i).or_default().push((record, message));
    }
    let mut rule_errors = Vec::new();
    for (i, mut list) in errors {
        list.sort();
        let more = list.len().saturating_sub(ERRORS_KEPT_PER_RULE) as u64;
        for (record, message) in list.into_iter().take(ERRORS_KEPT_PER_RULE) {
            rule_errors.push(RuleError {
                rule_id: compiled.rules[i].rule.id.clone(),
                record,
                message,
                more,
            });
        }
    }

    Report {
        as_of,
        inventory: inv,
        findings,
        not_evaluable: not_evaluable.into_values().collect(),
        rule_errors,
        runs,
        production,
        account_metrics,
        lifecycle: None,
    }
}
