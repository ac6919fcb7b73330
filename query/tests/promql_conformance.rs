//! PromQL conformance: runs Prometheus's PromQL test scripts (`load` / `eval` files, see
//! `shared/conformance/promql/FORMAT.md`) against our engine.
//!
//! * Scripts: `VITALS_CONFORMANCE_DIR` if set, else `<workspace>/../shared/conformance/promql`
//!   (the `main` snapshot) and its `v2.42.0/` subfolder. Absent: prints SKIPPED and passes,
//!   unless `VITALS_REQUIRE_PEERS=1`.
//! * Skipped cases: those `INDEX.tsv` marks as touching native histograms, and those using
//!   experimental syntax ([`conformance::SKIPPED_FEATURES`]).
//! * `VITALS_CONFORMANCE_FILTER=<substring>` runs only files whose name contains it;
//!   `VITALS_CONFORMANCE_VERBOSE=1` prints every case.
//! * A failing case not listed in `tests/conformance_known_failures.txt` fails the test;
//!   listed cases that now pass are printed as stale entries.
//!
//! Run: `cargo test -p query --test promql_conformance -- --nocapture`.

mod conformance;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use conformance::check::{check, perturb, synthesize, Verdict};
use conformance::script::{parse_script, Cmd, EvalKind};
use conformance::series::SeqValue;
use conformance::{file_name, folders, read_index, read_known_failures, test_files, Folder};
use query::promql::{Engine, EngineOptions, MemStorage};

/// Most diff lines printed per failure.
const MAX_DIFF_LINES: usize = 8;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A panic hook that records (instead of printing) panics raised while `QUIET` is set on
/// the panicking thread; other panics go to the previous hook.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) {
                LAST_PANIC.with(|p| *p.borrow_mut() = info.to_string());
            } else {
                prev(info)
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message)`.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_quiet_hook();
    QUIET.with(|q| q.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    r.map_err(|_| LAST_PANIC.with(|p| p.borrow().clone()))
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Counts of one file.
#[derive(Default)]
struct FileStats {
    passed: usize,
    failed: usize,
    skipped: BTreeMap<String, usize>,
    soft: usize,
}

impl FileStats {
    fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    fn add(&mut self, o: &FileStats) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.soft += o.soft;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
    }
}

/// A failed case.
struct Failure {
    key: String,
    expr: String,
    diff: Vec<String>,
}

/// Everything one folder produced.
#[derive(Default)]
struct FolderReport {
    files: Vec<(String, FileStats)>,
    failures: Vec<Failure>,
    passed: Vec<String>,
    soft: Vec<String>,
}

/// The reference runner's engine settings; the 2.42 scripts run with Prometheus 2 window
/// semantics (closed windows, 2.x rate extrapolation), the current ones with 3.x semantics
/// and delayed `__name__` removal (FORMAT.md §2).
fn engine(prometheus2: bool) -> Engine {
    Engine::new(EngineOptions {
        lookback_ms: 5 * 60 * 1000,
        max_samples: 10_000,
        default_subquery_step_ms: 60 * 1000,
        prometheus2_windows: prometheus2,
        delayed_name_removal: !prometheus2,
        ..Default::default()
    })
}

fn run_folder(folder: &Folder, filter: Option<&str>, verbose: bool) -> FolderReport {
    let index = read_index(&folder.path);
    let engine = engine(folder.path.ends_with("v2.42.0"));
    let mut rep = FolderReport::default();
    for path in test_files(&folder.path, filter) {
        let file = file_name(&path);
        let mut stats = FileStats::default();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let cmds = match parse_script(&text) {
            Ok(c) => c,
            Err(e) => {
                stats.failed += 1;
                rep.failures.push(Failure {
                    key: format!("{}/{file}:{}", folder.name, e.line),
                    expr: "<script>".into(),
                    diff: vec![format!("script does not parse: {}", e.msg)],
                });
                rep.files.push((file, stats));
                continue;
            }
        };
        let st = MemStorage::new();
        for cmd in &cmds {
            let ev = match cmd {
                Cmd::Clear => {
                    st.clear();
                    continue;
                }
                Cmd::Load(load) => {
                    for (labels, vals) in &load.series {
                        for (i, v) in vals.iter().enumerate() {
                            // Histogram samples (and the NHCB series of `load_with_nhcb`)
                            // are not stored: cases reading them are skipped.
                            if let SeqValue::Float(f) = v {
                                st.add(labels.clone(), i as i64 * load.interval_ms, *f);
                            }
                        }
                    }
                    continue;
                }
                Cmd::Eval(ev) => ev,
            };
            let key = format!("{}/{file}:{}", folder.name, ev.line);
            let skip = match index.get(&(file.clone(), ev.line)) {
                None => Some("not in INDEX.tsv".to_string()),
                Some(row) => row.skip_reason(),
            }
            .or_else(|| {
                ev.expects_histogram()
                    .then(|| "native histograms".to_string())
            });
            if let Some(reason) = skip {
                if verbose {
                    println!("SKIP {key} ({reason}): {}", ev.expr);
                }
                *stats.skipped.entry(reason).or_default() += 1;
                continue;
            }
            let res = guarded(|| match ev.kind {
                EvalKind::Instant { t } => engine.instant(&st, &ev.expr, t),
                EvalKind::Range { start, end, step } => {
                    engine.range(&st, &ev.expr, start, end, step)
                }
            });
            let verdict = match res {
                Ok(r) => check(ev, &r),
                Err(panic) => Verdict::Fail {
                    diff: panic
                        .lines()
                        .take(3)
                        .map(|l| format!("PANIC {l}"))
                        .collect(),
                },
            };
            match verdict {
                Verdict::Pass { soft } => {
                    stats.passed += 1;
                    stats.soft += usize::from(!soft.is_empty());
                    if verbose {
                        println!("PASS {key}: {}", ev.expr);
                    }
                    rep.soft
                        .extend(soft.into_iter().map(|s| format!("{key}: {s}")));
                    rep.passed.push(key);
                }
                Verdict::Fail { diff } => {
                    stats.failed += 1;
                    if verbose {
                        println!("FAIL {key}: {}", ev.expr);
                        for l in &diff {
                            println!("    {l}");
                        }
                    }
                    rep.failures.push(Failure {
                        key,
                        expr: ev.expr.clone(),
                        diff,
                    });
                }
            }
        }
        rep.files.push((file, stats));
    }
    rep
}

fn print_report(folder: &Folder, rep: &FolderReport, known: &HashMap<String, String>) {
    println!(
        "\n===== PromQL conformance: {} ({}) =====",
        folder.name,
        folder.path.display()
    );
    for f in &rep.failures {
        let mark = match known.get(&f.key) {
            Some(r) if r.is_empty() => " [known]".to_string(),
            Some(r) => format!(" [known: {r}]"),
            None => String::new(),
        };
        println!("FAIL {}{mark}\n    expr: {}", f.key, f.expr);
        for l in f.diff.iter().take(MAX_DIFF_LINES) {
            println!("    {l}");
        }
        if f.diff.len() > MAX_DIFF_LINES {
            println!("    … {} more lines", f.diff.len() - MAX_DIFF_LINES);
        }
    }
    if !rep.soft.is_empty() {
        println!(
            "\n-- {}: soft mismatches (error/annotation texts; not failures) --",
            folder.name
        );
        for s in &rep.soft {
            println!("SOFT {s}");
        }
    }
    println!(
        "\n{:<28} {:>6} {:>6} {:>6} {:>5}  skipped because",
        format!("{} file", folder.name),
        "passed",
        "failed",
        "skip",
        "soft"
    );
    let mut total = FileStats::default();
    let line = |name: &str, s: &FileStats| {
        let why: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!(
            "{name:<28} {:>6} {:>6} {:>6} {:>5}  {}",
            s.passed,
            s.failed,
            s.skipped_total(),
            s.soft,
            why.join(", ")
        );
    };
    for (name, s) in &rep.files {
        line(name, s);
        total.add(s);
    }
    line("TOTAL", &total);
}

#[test]
fn promql_conformance() {
    let Some(folders) = folders("promql_conformance") else {
        return;
    };
    let filter = std::env::var("VITALS_CONFORMANCE_FILTER")
        .ok()
        .filter(|f| !f.is_empty());
    let verbose = env_flag("VITALS_CONFORMANCE_VERBOSE");
    let known = read_known_failures();
    let mut unknown: Vec<(String, String)> = Vec::new();
    let mut stale: Vec<String> = Vec::new();
    for folder in &folders {
        if !folder.path.is_dir() {
            println!(
                "SKIPPED folder {}: {} is missing",
                folder.name,
                folder.path.display()
            );
            continue;
        }
        let rep = run_folder(folder, filter.as_deref(), verbose);
        print_report(folder, &rep, &known);
        unknown.extend(
            rep.failures
                .iter()
                .filter(|f| !known.contains_key(&f.key))
                .map(|f| (f.key.clone(), f.expr.clone())),
        );
        stale.extend(rep.passed.into_iter().filter(|k| known.contains_key(k)));
    }
    if !stale.is_empty() {
        println!(
            "\n{} stale entries in conformance_known_failures.txt (these cases pass now):",
            stale.len()
        );
        for k in &stale {
            println!("  {k} {}", known[k]);
        }
    }
    if !unknown.is_empty() {
        println!(
            "\n{} failing cases not listed in query/tests/conformance_known_failures.txt:",
            unknown.len()
        );
        for (k, expr) in &unknown {
            println!("  {k}  {expr}");
        }
        panic!(
            "{} PromQL conformance cases fail that are not in the known-failures list",
            unknown.len()
        );
    }
}

/// Self-check of the script parser (needs no engine): every script parses, and the eval
/// statements found are exactly the rows of each folder's `INDEX.tsv`.
#[test]
fn conformance_scripts_parse() {
    let Some(folders) = folders("conformance_scripts_parse") else {
        return;
    };
    let mut errors: Vec<String> = Vec::new();
    for folder in &folders {
        let index = read_index(&folder.path);
        let mut found = 0usize;
        let mut runnable = 0usize;
        let mut loads = 0usize;
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut broken: Vec<String> = Vec::new();
        for path in test_files(&folder.path, None) {
            let file = file_name(&path);
            let text = std::fs::read_to_string(&path).unwrap();
            let cmds = match parse_script(&text) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(format!("{}/{file}: {e}", folder.name));
                    broken.push(file);
                    continue;
                }
            };
            for cmd in &cmds {
                let ev = match cmd {
                    Cmd::Eval(ev) => ev,
                    Cmd::Load(l) => {
                        assert!(l.interval_ms > 0 || l.series.is_empty());
                        loads += usize::from(!l.nhcb);
                        continue;
                    }
                    Cmd::Clear => continue,
                };
                found += 1;
                let key = (file.clone(), ev.line);
                let at = format!("{}/{file}:{}", folder.name, ev.line);
                let Some(row) = index.get(&key) else {
                    errors.push(format!("{at}: eval not in INDEX.tsv: {}", ev.expr));
                    continue;
                };
                seen.insert(key);
                let kind = match ev.kind {
                    EvalKind::Instant { .. } => "instant",
                    EvalKind::Range { .. } => "range",
                };
                if row.expr != ev.expr || row.kind != kind || row.expect_fail != ev.fail {
                    errors.push(format!(
                        "{at}: parsed ({kind}, fail={}, {:?}) but INDEX.tsv says ({}, fail={}, {:?})",
                        ev.fail, ev.expr, row.kind, row.expect_fail, row.expr
                    ));
                }
                match row.skip_reason().or_else(|| {
                    ev.expects_histogram()
                        .then(|| "native histograms".to_string())
                }) {
                    Some(r) => *skipped.entry(r).or_default() += 1,
                    None => {
                        runnable += 1;
                        roundtrip(ev, &at, &mut errors);
                    }
                }
            }
        }
        for key in index
            .keys()
            .filter(|k| !seen.contains(*k) && !broken.contains(&k.0))
        {
            errors.push(format!(
                "{}/{}:{}: INDEX.tsv row without a parsed eval",
                folder.name, key.0, key.1
            ));
        }
        println!(
            "{}: {found} evals parsed ({} in INDEX.tsv), {runnable} runnable, {loads} float loads, skipped {skipped:?}",
            folder.name,
            index.len()
        );
        if found != index.len() {
            errors.push(format!(
                "{}: {found} evals parsed but INDEX.tsv has {} rows",
                folder.name,
                index.len()
            ));
        }
    }
    for e in &errors {
        println!("ERROR {e}");
    }
    assert!(errors.is_empty(), "{} script parse errors", errors.len());
}

/// The checker accepts the result the expectations describe and rejects a changed one.
fn roundtrip(ev: &conformance::script::Eval, at: &str, errors: &mut Vec<String>) {
    let Some(res) = synthesize(ev) else {
        errors.push(format!("{at}: cannot synthesize the expected result"));
        return;
    };
    if let Verdict::Fail { diff } = check(ev, &res) {
        errors.push(format!(
            "{at}: checker rejects the expected result: {diff:?}"
        ));
    }
    let bad = match res {
        Err(_) => Ok(query::promql::QueryOutput {
            value: query::promql::Value::Vector(Vec::new()),
            warnings: Vec::new(),
            infos: Vec::new(),
        }),
        Ok(mut out) => {
            perturb(&mut out);
            Ok(out)
        }
    };
    if let Verdict::Pass { .. } = check(ev, &bad) {
        errors.push(format!("{at}: checker accepts a wrong result"));
    }
}
