//! The PromQL function table: names, argument types and result types.

use super::ast::ValueType::{self, Matrix, Scalar, String as Str, Vector};

/// A function's signature.
#[derive(Debug)]
pub struct FuncDef {
    /// Canonical name.
    pub name: &'static str,
    /// Argument types.
    pub args: &'static [ValueType],
    /// 0: exactly `args`; n > 0: the last n arguments are optional; -1: the last repeats.
    pub variadic: i32,
    /// Result type.
    pub ret: ValueType,
}

macro_rules! f {
    ($name:literal, [$($a:expr),*], $var:expr, $ret:expr) => {
        FuncDef { name: $name, args: &[$($a),*], variadic: $var, ret: $ret }
    };
}

static FUNCS: &[FuncDef] = &[
    f!("abs", [Vector], 0, Vector),
    f!("absent", [Vector], 0, Vector),
    f!("absent_over_time", [Matrix], 0, Vector),
    f!("acos", [Vector], 0, Vector),
    f!("acosh", [Vector], 0, Vector),
    f!("asin", [Vector], 0, Vector),
    f!("asinh", [Vector], 0, Vector),
    f!("atan", [Vector], 0, Vector),
    f!("atanh", [Vector], 0, Vector),
    f!("avg_over_time", [Matrix], 0, Vector),
    f!("ceil", [Vector], 0, Vector),
    f!("changes", [Matrix], 0, Vector),
    f!("clamp", [Vector, Scalar, Scalar], 0, Vector),
    f!("clamp_max", [Vector, Scalar], 0, Vector),
    f!("clamp_min", [Vector, Scalar], 0, Vector),
    f!("cos", [Vector], 0, Vector),
    f!("cosh", [Vector], 0, Vector),
    f!("count_over_time", [Matrix], 0, Vector),
    f!("days_in_month", [Vector], 1, Vector),
    f!("day_of_month", [Vector], 1, Vector),
    f!("day_of_week", [Vector], 1, Vector),
    f!("day_of_year", [Vector], 1, Vector),
    f!("deg", [Vector], 0, Vector),
    f!("delta", [Matrix], 0, Vector),
    f!("deriv", [Matrix], 0, Vector),
    f!(
        "double_exponential_smoothing",
        [Matrix, Scalar, Scalar],
        0,
        Vector
    ),
    f!("exp", [Vector], 0, Vector),
    f!("first_over_time", [Matrix], 0, Vector),
    f!("floor", [Vector], 0, Vector),
    f!("histogram_avg", [Vector], 0, Vector),
    f!("histogram_count", [Vector], 0, Vector),
    f!("histogram_fraction", [Scalar, Scalar, Vector], 0, Vector),
    f!("histogram_quantile", [Scalar, Vector], 0, Vector),
    f!("histogram_quantiles", [Vector, Str, Scalar], -1, Vector),
    f!("histogram_stddev", [Vector], 0, Vector),
    f!("histogram_stdvar", [Vector], 0, Vector),
    f!("histogram_sum", [Vector], 0, Vector),
    f!("hour", [Vector], 1, Vector),
    f!("idelta", [Matrix], 0, Vector),
    f!("increase", [Matrix], 0, Vector),
    f!("irate", [Matrix], 0, Vector),
    f!("info", [Vector, Vector], 1, Vector),
    f!("label_join", [Vector, Str, Str, Str], -1, Vector),
    f!("label_replace", [Vector, Str, Str, Str, Str], 0, Vector),
    f!("last_over_time", [Matrix], 0, Vector),
    f!("ln", [Vector], 0, Vector),
    f!("log10", [Vector], 0, Vector),
    f!("log2", [Vector], 0, Vector),
    f!("mad_over_time", [Matrix], 0, Vector),
    f!("max_over_time", [Matrix], 0, Vector),
    f!("min_over_time", [Matrix], 0, Vector),
    f!("minute", [Vector], 1, Vector),
    f!("month", [Vector], 1, Vector),
    f!("pi", [], 0, Scalar),
    f!("predict_linear", [Matrix, Scalar], 0, Vector),
    f!("present_over_time", [Matrix], 0, Vector),
    f!("quantile_over_time", [Scalar, Matrix], 0, Vector),
    f!("rad", [Vector], 0, Vector),
    f!("rate", [Matrix], 0, Vector),
    f!("resets", [Matrix], 0, Vector),
    f!("round", [Vector, Scalar], 1, Vector),
    f!("scalar", [Vector], 0, Scalar),
    f!("sgn", [Vector], 0, Vector),
    f!("sin", [Vector], 0, Vector),
    f!("sinh", [Vector], 0, Vector),
    f!("sort", [Vector], 0, Vector),
    f!("sort_by_label", [Vector, Str], -1, Vector),
    f!("sort_by_label_desc", [Vector, Str], -1, Vector),
    f!("sort_desc", [Vector], 0, Vector),
    f!("sqrt", [Vector], 0, Vector),
    f!("stddev_over_time", [Matrix], 0, Vector),
    f!("stdvar_over_time", [Matrix], 0, Vector),
    f!("sum_over_time", [Matrix], 0, Vector),
    f!("tan", [Vector], 0, Vector),
    f!("tanh", [Vector], 0, Vector),
    f!("time", [], 0, Scalar),
    f!("start", [], 0, Scalar),
    f!("end", [], 0, Scalar),
    f!("timestamp", [Vector], 0, Vector),
    f!("ts_of_first_over_time", [Matrix], 0, Vector),
    f!("ts_of_last_over_time", [Matrix], 0, Vector),
    f!("ts_of_max_over_time", [Matrix], 0, Vector),
    f!("ts_of_min_over_time", [Matrix], 0, Vector),
    f!("vector", [Scalar], 0, Vector),
    f!("year", [Vector], 1, Vector),
];

/// Looks up a function by name; `holt_winters` is an alias of `double_exponential_smoothing`.
pub fn lookup(name: &str) -> Option<&'static FuncDef> {
    let name = if name == "holt_winters" {
        "double_exponential_smoothing"
    } else {
        name
    };
    FUNCS.iter().find(|f| f.name == name)
}
