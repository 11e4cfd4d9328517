//! configs/grafana/director.json against what [`render`] exports: every metric a query names
//! is exported, every label a query matches, groups by or shows in its legend is a label of
//! the metrics it reads (or one Prometheus adds at the scrape), and every exported family is
//! on the dashboard.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{render, Counters};

/// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// A daemon with every part present: pair mode, announcements, a virtual service with a real
/// server, heartbeat refusals, check lags and traffic.
fn everything() -> String {
    let status = super::tests::status();
    let counters = Counters {
        heartbeat_rejected: vec![("replay".into(), 1)],
        check_lag: vec![(0.99, 0.002)],
        ..Default::default()
    };
    let traffic = super::tests::traffic();
    render(&status, &counters, Some(&traffic))
}

/// What the exposition holds: sample name (`_total` on counters) -> its label names.
fn exported(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                panic!("a TYPE line without a kind: {line}");
            };
            let sample = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            out.entry(sample).or_default();
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).expect("a sample line");
            let name = &line[..name_end];
            let labels = out.entry(name.to_string()).or_default();
            if let Some(inner) = line[name_end..]
                .strip_prefix('{')
                .and_then(|s| s.split_once('}'))
            {
                // the fixture's label values hold no commas or quotes
                for pair in inner.0.split(',') {
                    let (label, _) = pair.split_once('=').expect("label=value");
                    labels.insert(label.to_string());
                }
            }
        }
    }
    out
}

/// What one PromQL expression reads: metric names, and the label names it matches or groups by.
#[derive(Debug, Default, PartialEq)]
struct Used {
    metrics: BTreeSet<String>,
    labels: BTreeSet<String>,
}

/// PromQL's aggregation operators and keywords: never metric names.
const KEYWORDS: [&str; 20] = [
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
    "limit_ratio",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
];

/// Scan PromQL (with Grafana's `$variables`): identifiers inside `{}` are label names, the
/// lists after `by`, `without`, `on`, `ignoring`, `group_left`, `group_right` are label names,
/// other identifiers are metric names unless followed by `(` (functions) or PromQL keywords.
/// String literals and numbers are skipped.
fn scan(expr: &str) -> Used {
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut used = Used::default();
    let mut braces = false;
    let mut grouping = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '{' => {
                braces = true;
                i += 1;
            }
            '}' => {
                braces = false;
                i += 1;
            }
            ')' => {
                grouping = false;
                i += 1;
            }
            '$' => {
                // a Grafana variable: $name, ${name}
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_{}".contains(chars[i]))
                {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let call = chars.get(next) == Some(&'(');
                if braces || grouping {
                    used.labels.insert(word);
                } else if call && GROUPING.contains(&word.as_str()) {
                    grouping = true;
                } else if !call && !KEYWORDS.contains(&word.as_str()) {
                    used.metrics.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    used
}

/// The labels a legend shows: `{{virtual_service}} {{real}}`.
fn legend_labels(legend: &str) -> BTreeSet<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|s| s.split_once("}}"))
        .map(|(l, _)| l.trim().to_string())
        .collect()
}

/// Every query of the dashboard: (panel title, expression, legend), panels in rows included,
/// and the templating variables' `label_values(SELECTOR, LABEL)`.
fn queries(dashboard: &Value) -> Vec<(String, String, String)> {
    fn panels(v: &Value, out: &mut Vec<(String, String, String)>) {
        for p in v.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().expect("every target has an expr");
                let legend = t["legendFormat"].as_str().unwrap_or_default();
                out.push((title.clone(), expr.to_string(), legend.to_string()));
            }
            panels(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dashboard["panels"], &mut out);
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if var["type"] != "query" {
            continue;
        }
        let q = var["query"]["query"]
            .as_str()
            .or(var["query"].as_str())
            .expect("a query variable has a query");
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable queries are label_values(...): {q}"));
        let (selector, label) = inner
            .rsplit_once(',')
            .expect("label_values(SELECTOR, LABEL)");
        let title = format!("variable {}", var["name"]);
        // the label as a legend: it must be a label of the selector's metric
        out.push((
            title,
            selector.to_string(),
            format!("{{{{{}}}}}", label.trim()),
        ));
    }
    out
}

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/grafana/director.json"
    );
    let text = std::fs::read_to_string(path).expect("configs/grafana/director.json");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// The problems of `dashboard` against `exported`, in words.
fn problems(dashboard: &Value, exported: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut shown = BTreeSet::new();
    let queries = queries(dashboard);
    assert!(
        queries.len() > 10,
        "the dashboard has only {} queries",
        queries.len()
    );
    for (title, expr, legend) in &queries {
        let used = scan(expr);
        let ours: Vec<&String> = used
            .metrics
            .iter()
            .filter(|m| m.starts_with("director_"))
            .collect();
        if ours.is_empty() {
            problems.push(format!("{title}: {expr:?} reads no director metric"));
        }
        let mut labels: BTreeSet<&str> = TARGET_LABELS.into_iter().collect();
        for m in &ours {
            match exported.get(*m) {
                Some(l) => labels.extend(l.iter().map(String::as_str)),
                None => problems.push(format!("{title}: {m} is not exported")),
            }
            shown.insert((*m).clone());
        }
        for l in used.labels.iter().chain(&legend_labels(legend)) {
            if !labels.contains(l.as_str()) {
                problems.push(format!(
                    "{title}: label {l} is not a label of {ours:?} in {expr:?} / {legend:?}"
                ));
            }
        }
    }
    for name in exported.keys() {
        if !shown.contains(name) {
            problems.push(format!("{name} is exported but not on the dashboard"));
        }
    }
    problems
}

#[test]
fn the_dashboard_reads_only_what_the_daemon_exports_and_shows_all_of_it() {
    let exported = exported(&everything());
    // the fixture exports every family, traffic included
    for name in [
        "director_up",
        "director_failover_role",
        "director_vip_announced",
        "director_virtual_connections_total",
        "director_real_outgoing_bytes_total",
        "director_real_connections_active",
        "director_traffic_dump_seconds",
    ] {
        assert!(
            exported.contains_key(name),
            "{name} missing from {exported:?}"
        );
    }
    let problems = problems(&load(), &exported);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_wrong_name_or_label_in_a_query_is_found() {
    let exported = exported(&everything());
    let mut dashboard = load();
    let target = &mut dashboard["panels"][1]["targets"][0];
    let expr = target["expr"].as_str().unwrap().to_string();
    target["expr"] = Value::from(expr.replace("director_up", "director_upp"));
    let found = problems(&dashboard, &exported);
    assert!(
        found
            .iter()
            .any(|p| p.contains("director_upp is not exported")),
        "{found:?}"
    );
    let mut dashboard = load();
    dashboard["panels"][1]["targets"][0]["legendFormat"] = Value::from("{{virtual}}");
    let found = problems(&dashboard, &exported);
    assert!(
        found.iter().any(|p| p.contains("label virtual is not")),
        "{found:?}"
    );
}

#[test]
fn scan_tells_metrics_from_labels_functions_and_variables() {
    let used = scan(
        r#"sum by (virtual_service) (rate(director_virtual_connections_total{instance=~"$instance", virtual_service!="a{b}"}[$__rate_interval])) / on (instance) group_left(role) director_failover_role == bool 1"#,
    );
    assert_eq!(
        used.metrics,
        [
            "director_failover_role",
            "director_virtual_connections_total"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    assert_eq!(
        used.labels,
        ["instance", "role", "virtual_service"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    assert_eq!(
        legend_labels("{{virtual_service}} {{ real }}"),
        ["real", "virtual_service"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
