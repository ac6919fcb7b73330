//! The PromQL syntax tree and its printer (`format_query`).

use std::fmt;

use tsdb::{MatchOp, Matcher};

/// The type an expression evaluates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// A number.
    Scalar,
    /// An instant vector.
    Vector,
    /// A range vector.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The name Prometheus uses in messages and in the API's `resultType`.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }
}

/// `@` modifier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// A fixed time (ms).
    Time(i64),
    /// `@ start()`
    Start,
    /// `@ end()`
    End,
}

/// An instant vector selector.
#[derive(Clone, Debug)]
pub struct VectorSelector {
    /// The metric name, when given outside the braces.
    pub name: Option<String>,
    /// All matchers (the name as a `__name__` matcher included).
    pub matchers: Vec<Matcher>,
    /// `offset` in ms.
    pub offset: i64,
    /// `@` modifier.
    pub at: Option<At>,
}

impl PartialEq for VectorSelector {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.offset == o.offset
            && self.at == o.at
            && self.matchers.len() == o.matchers.len()
            && self
                .matchers
                .iter()
                .zip(&o.matchers)
                .all(|(a, b)| a.name == b.name && a.op == b.op && a.value == b.value)
    }
}

/// Aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

impl AggOp {
    /// Looks up an aggregation keyword (case-insensitive).
    pub fn from_name(s: &str) -> Option<AggOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "count_values" => AggOp::CountValues,
            "quantile" => AggOp::Quantile,
            "limitk" => AggOp::Limitk,
            "limit_ratio" => AggOp::LimitRatio,
            _ => return None,
        })
    }

    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Count => "count",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Group => "group",
            AggOp::Stddev => "stddev",
            AggOp::Stdvar => "stdvar",
            AggOp::Topk => "topk",
            AggOp::Bottomk => "bottomk",
            AggOp::CountValues => "count_values",
            AggOp::Quantile => "quantile",
            AggOp::Limitk => "limitk",
            AggOp::LimitRatio => "limit_ratio",
        }
    }

    /// True when the operator takes a parameter before the vector.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggOp::Topk
                | AggOp::Bottomk
                | AggOp::CountValues
                | AggOp::Quantile
                | AggOp::Limitk
                | AggOp::LimitRatio
        )
    }
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    And,
    Or,
    Unless,
}

impl BinOp {
    /// The operator's spelling.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Gtr => ">",
            BinOp::Lss => "<",
            BinOp::Gte => ">=",
            BinOp::Lte => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Atan2 => 5,
            BinOp::Pow => 7,
        }
    }

    /// `==`, `!=`, `>`, `<`, `>=`, `<=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// `and`, `or`, `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// Matching cardinality of a vector/vector operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on`/`ignoring` and `group_left`/`group_right` of a binary operation.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    /// Cardinality.
    pub card: Card,
    /// True for `on(...)`, false for `ignoring(...)` (or none).
    pub on: bool,
    /// The `on`/`ignoring` labels.
    pub labels: Vec<String>,
    /// Labels copied from the "one" side (`group_left(...)`).
    pub include: Vec<String>,
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number literal.
    Number(f64),
    /// A string literal.
    Str(String),
    /// An instant vector selector.
    Selector(VectorSelector),
    /// A range vector selector `sel[range]`.
    Matrix {
        /// The selector (carries offset and `@`).
        sel: VectorSelector,
        /// The range in ms.
        range: i64,
    },
    /// A subquery `expr[range:step]`.
    Subquery {
        /// The inner expression.
        expr: Box<Expr>,
        /// Range (ms).
        range: i64,
        /// Step (ms), `None` for the default.
        step: Option<i64>,
        /// Offset (ms).
        offset: i64,
        /// `@` modifier.
        at: Option<At>,
    },
    /// A function call.
    Call {
        /// The function's canonical name.
        func: &'static str,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// An aggregation.
    Aggregate {
        /// The operator.
        op: AggOp,
        /// The aggregated vector.
        expr: Box<Expr>,
        /// `k`, `φ` or the label name parameter.
        param: Option<Box<Expr>>,
        /// The `by`/`without` labels.
        grouping: Vec<String>,
        /// True for `without`.
        without: bool,
    },
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// Vector matching (only for vector/vector operations).
        matching: Option<VectorMatching>,
        /// `bool` modifier.
        return_bool: bool,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    /// Parentheses.
    Paren(Box<Expr>),
}

impl Expr {
    /// The type the expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::Str(_) => ValueType::String,
            Expr::Selector(_) => ValueType::Vector,
            Expr::Matrix { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Call { func, .. } => super::functions::lookup(func)
                .map(|f| f.ret)
                .unwrap_or(ValueType::Vector),
            Expr::Aggregate { .. } => ValueType::Vector,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Neg(e) | Expr::Paren(e) => e.value_type(),
        }
    }
}

/// Formats ms as a Prometheus duration (`1h30m`, `0s`).
pub fn fmt_duration(ms: i64) -> String {
    promconfig::format_duration_ms(ms)
}

fn fmt_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Whether `s` is a legacy identifier (`[a-zA-Z_][a-zA-Z0-9_]*`, plus `:` with `colons`).
fn is_identifier(s: &str, colons: bool) -> bool {
    let ok = |c: char, first: bool| {
        c == '_'
            || c.is_ascii_alphabetic()
            || (!first && c.is_ascii_digit())
            || (colons && c == ':')
    };
    let mut cs = s.chars();
    cs.next().is_some_and(|c| ok(c, true)) && cs.all(|c| ok(c, false))
}

/// A label name as PromQL writes it: bare when it is an identifier, quoted otherwise.
fn fmt_label_name(n: &str) -> String {
    if is_identifier(n, false) {
        n.to_string()
    } else {
        fmt_string(n)
    }
}

/// A list of label names in parentheses' inner form (`a, "b.c"`).
fn fmt_label_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| fmt_label_name(n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_mods(f: &mut fmt::Formatter<'_>, offset: i64, at: &Option<At>) -> fmt::Result {
    if let Some(at) = at {
        match at {
            At::Time(t) => write!(f, " @ {:.3}", *t as f64 / 1000.0)?,
            At::Start => write!(f, " @ start()")?,
            At::End => write!(f, " @ end()")?,
        }
    }
    if offset != 0 {
        write!(f, " offset {}", fmt_duration(offset))?;
    }
    Ok(())
}

impl fmt::Display for VectorSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A name that is not an identifier stays a `__name__` matcher inside the braces.
        let name = self.name.as_deref().filter(|n| is_identifier(n, true));
        if let Some(n) = name {
            write!(f, "{n}")?;
        }
        let ms: Vec<String> = self
            .matchers
            .iter()
            .filter(|m| !(name.is_some() && m.name == "__name__" && m.op == MatchOp::Equal))
            .map(|m| {
                let op = match m.op {
                    MatchOp::Equal => "=",
                    MatchOp::NotEqual => "!=",
                    MatchOp::Regex => "=~",
                    MatchOp::NotRegex => "!~",
                };
                format!("{}{}{}", fmt_label_name(&m.name), op, fmt_string(&m.value))
            })
            .collect();
        // A keyword as a bare metric name would not parse back (`and{}` prints as `and{}`).
        let keyword = name.is_some_and(is_reserved_word);
        if !ms.is_empty() || name.is_none() || keyword {
            write!(f, "{{{}}}", ms.join(", "))?;
        }
        Ok(())
    }
}

/// Whether `name` standing alone would parse as a keyword or an aggregation, not a metric.
fn is_reserved_word(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "atan2",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
    ];
    let lower = name.to_ascii_lowercase();
    WORDS.contains(&lower.as_str()) || AggOp::from_name(&lower).is_some()
}

fn fmt_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(v) => write!(f, "{}", fmt_number(*v)),
            Expr::Str(s) => write!(f, "{}", fmt_string(s)),
            Expr::Selector(s) => {
                write!(f, "{s}")?;
                fmt_mods(f, s.offset, &s.at)
            }
            Expr::Matrix { sel, range } => {
                write!(f, "{sel}[{}]", fmt_duration(*range))?;
                fmt_mods(f, sel.offset, &sel.at)
            }
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at,
            } => {
                write!(
                    f,
                    "{expr}[{}:{}]",
                    fmt_duration(*range),
                    step.map(fmt_duration).unwrap_or_default()
                )?;
                fmt_mods(f, *offset, at)
            }
            Expr::Call { func, args } => {
                let a: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                write!(f, "{func}({})", a.join(", "))
            }
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
            } => {
                write!(f, "{}", op.name())?;
                if *without || !grouping.is_empty() {
                    let kw = if *without { "without" } else { "by" };
                    write!(f, " {kw} ({}) ", fmt_label_list(grouping))?;
                }
                match param {
                    Some(p) => write!(f, "({p}, {expr})"),
                    None => write!(f, "({expr})"),
                }
            }
            Expr::Binary {
                op,
                lhs,
                rhs,
                matching,
                return_bool,
            } => {
                write!(f, "{lhs} {}", op.name())?;
                if *return_bool {
                    write!(f, " bool")?;
                }
                if let Some(m) = matching {
                    if m.on || !m.labels.is_empty() {
                        let kw = if m.on { "on" } else { "ignoring" };
                        write!(f, " {kw} ({})", fmt_label_list(&m.labels))?;
                    }
                    match m.card {
                        Card::ManyToOne => {
                            write!(f, " group_left ({})", fmt_label_list(&m.include))?
                        }
                        Card::OneToMany => {
                            write!(f, " group_right ({})", fmt_label_list(&m.include))?
                        }
                        _ => {}
                    }
                }
                write!(f, " {rhs}")
            }
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::Paren(e) => write!(f, "({e})"),
        }
    }
}
