//! `firewall::analysis`: the rules report (unanchored, never matching, shadowed, always
//! checked) and the explanation of one decision.

use portcullis::firewall::analysis::{List, Problem, Report, RuleAnalysis, Severity};
use portcullis::firewall::{Rule, RuleMatcher, Targets};
use portcullis::settings::RuleSpec;
use serde_json::{json, Value};

fn rule(value: Value) -> Rule {
    Rule::new(serde_json::from_value::<RuleSpec>(value).unwrap()).unwrap()
}

fn url_rule(id: &str, securelist: &[&str], whitelist: &[&str]) -> Rule {
    rule(json!({"id": id, "securelist": securelist, "whitelist": whitelist, "match": "url"}))
}

fn report(rules: &[Rule]) -> Report {
    RuleAnalysis::new(rules, true).unwrap().report()
}

fn problems<'r>(report: &'r Report, id: &str) -> &'r [Problem] {
    report.rule(id).map_or(&[], |r| &r.problems)
}

fn shadowed_by(report: &Report, id: &str) -> Option<Vec<String>> {
    problems(report, id).iter().find_map(|p| match p {
        Problem::Shadowed { by } => Some(by.iter().map(|r| r.id.clone()).collect()),
        _ => None,
    })
}

#[test]
fn unanchored_patterns() {
    let rules = [
        url_rule("a", &["admin"], &["login"]),
        url_rule("b", &["^/admin/"], &[]),
        url_rule("c", &[r"\.css$"], &[]),
    ];
    let report = report(&rules);
    let found = problems(&report, "a");
    assert!(found.contains(&Problem::Unanchored {
        list: List::Securelist,
        pattern: "admin".into(),
        substring: false
    }));
    assert!(found.contains(&Problem::Unanchored {
        list: List::Whitelist,
        pattern: "login".into(),
        substring: false
    }));
    assert_eq!(found[0].severity(), Severity::Warning);
    assert!(found[0]
        .to_string()
        .contains("`admin` also matches `/badminton/`"));
    assert!(report.rule("b").is_none());
    assert!(
        !problems(&report, "c")
            .iter()
            .any(|p| matches!(p, Problem::Unanchored { .. })),
        "`$` anchors too"
    );
    // In substring mode it is by design: info only.
    let report = RuleAnalysis::new(&rules, false).unwrap().report();
    assert!(problems(&report, "a")
        .iter()
        .all(|p| p.severity() == Severity::Info));
}

#[test]
fn patterns_that_never_match() {
    let rules = [
        url_rule("no-slash", &["^admin"], &[]),
        url_rule("no-trailing-slash", &["^/admin$"], &[]),
        url_rule("double-slash", &["^/a//b"], &[]),
        url_rule("query", &[r"\?debug=1"], &[]),
        url_rule("escaped", &["%2e%2e"], &[]),
        url_rule("dot-segment", &[r"/\.\./"], &[]),
        url_rule("half", &["^admin", "^/admin/"], &["^public"]),
        url_rule(
            "fine",
            &["^/admin/$", "^/(admin|x)", r"^/static/.*\.(css|js)/$"],
            &[],
        ),
        rule(json!({"id": "route", "securelist": ["^users", "^/users/\\{id\\}$"]})),
    ];
    let report = report(&rules);
    for id in [
        "no-slash",
        "no-trailing-slash",
        "double-slash",
        "query",
        "escaped",
        "dot-segment",
    ] {
        let found = problems(&report, id);
        assert!(
            found.iter().any(|p| matches!(
                p,
                Problem::NeverMatches {
                    rule_never_applies: true,
                    ..
                }
            )),
            "{id}: {found:?}"
        );
        assert_eq!(found[0].severity(), Severity::Error, "{id}");
    }
    assert!(problems(&report, "no-trailing-slash")[0]
        .to_string()
        .contains("end it with `/$`"));
    let half = problems(&report, "half");
    let never: Vec<_> = half
        .iter()
        .filter_map(|p| match p {
            Problem::NeverMatches {
                list,
                pattern,
                rule_never_applies,
                ..
            } => Some((*list, pattern.as_str(), *rule_never_applies)),
            _ => None,
        })
        .collect();
    assert_eq!(
        never,
        [
            (List::Securelist, "^admin", false),
            (List::Whitelist, "^public", false)
        ]
    );
    assert!(report.rule("fine").is_none(), "{:?}", report.rule("fine"));
    // Route templates also start with `/`, but need no trailing slash.
    let route = problems(&report, "route");
    assert_eq!(route.len(), 1, "{route:?}");
    assert!(matches!(&route[0], Problem::NeverMatches { pattern, .. } if pattern == "^users"));
    assert!(report.has_errors());
}

#[test]
fn shadowed_rules() {
    let rules = [
        url_rule("api", &["^/api/"], &[]),
        url_rule("orders", &["^/API/v2/orders/"], &[]),
        url_rule("versions", &["^/api/v[12]/x"], &[]),
        url_rule("whitelisted", &["^/admin/"], &["^/admin/login/"]),
        url_rule("admin-users", &["^/admin/users/"], &[]),
        url_rule("literal", &["secret"], &[]),
        url_rule("contains", &["^/x/top-secret/", "(secret|secrets)"], &[]),
        url_rule("same", &["^/admin/"], &[]),
        url_rule("same-again", &["^/Admin/"], &[]),
        url_rule("two-covers", &["^/api/v3/", "^/admin/users/x/"], &[]),
        url_rule("not-covered", &["^/ap", "^/apple/"], &[]),
        rule(json!({"id": "route", "securelist": ["^/api/"]})),
        url_rule("everything", &[".*"], &[]),
        url_rule("after-everything", &["^/zzz/"], &[]),
    ];
    let report = report(&rules);
    assert_eq!(shadowed_by(&report, "api"), None);
    assert_eq!(shadowed_by(&report, "orders").unwrap(), ["api"]);
    assert_eq!(shadowed_by(&report, "versions").unwrap(), ["api"]);
    assert_eq!(
        shadowed_by(&report, "admin-users"),
        None,
        "the earlier rule has a whitelist"
    );
    assert_eq!(shadowed_by(&report, "contains").unwrap(), ["literal"]);
    assert_eq!(
        shadowed_by(&report, "same"),
        None,
        "no earlier rule covers `^/admin/`"
    );
    assert_eq!(shadowed_by(&report, "same-again").unwrap(), ["same"]);
    assert_eq!(
        shadowed_by(&report, "two-covers").unwrap(),
        ["api", "admin-users"]
    );
    assert_eq!(shadowed_by(&report, "not-covered"), None);
    assert_eq!(shadowed_by(&report, "route"), None, "another target kind");
    assert_eq!(
        shadowed_by(&report, "after-everything").unwrap(),
        ["everything"]
    );
    let text = report.to_string();
    assert!(text.contains("rule 1 (id \"orders\", code):"), "{text}");
    assert!(
        text.contains("warning: never applies: earlier rule(s) 0 (id \"api\")"),
        "{text}"
    );
}

/// Every rule reported as shadowed really never applies: checked with the matcher on
/// targets built from the rules' own literals.
#[test]
fn shadowed_rules_never_apply() {
    let rules = [
        url_rule("api", &["^/api/"], &[]),
        url_rule("orders", &["^/api/v2/orders/"], &[]),
        url_rule("literal", &["secret"], &[]),
        url_rule("contains", &["^/x/top-secret/"], &[]),
        url_rule("other", &["^/x/"], &[]),
    ];
    let report = report(&rules);
    let matcher = RuleMatcher::new(&rules, true).unwrap();
    let shadowed: Vec<usize> = report
        .rules
        .iter()
        .filter(|r| {
            r.problems
                .iter()
                .any(|p| matches!(p, Problem::Shadowed { .. }))
        })
        .map(|r| r.index)
        .collect();
    assert_eq!(shadowed, [1, 3]);
    for url in [
        "/api/v2/orders/1/",
        "/x/top-secret/",
        "/x/",
        "/API/V2/ORDERS/",
        "/x/top-secret/secret/",
    ] {
        let applied = matcher.first_applying(&Targets::new(url, None));
        assert!(
            applied.is_none_or(|i| !shadowed.contains(&i)),
            "{url}: {applied:?}"
        );
    }
}

#[test]
fn always_checked_rules() {
    let rules = [
        url_rule("indexed", &["^/api/"], &[]),
        url_rule("scan", &["^/[a-z]+/$"], &[]),
    ];
    let report = report(&rules);
    assert!(report.rule("indexed").is_none());
    assert_eq!(
        problems(&report, "scan"),
        [Problem::AlwaysChecked {
            pattern: "^/[a-z]+/$".into()
        }]
    );
    assert_eq!(report.worst(), Some(Severity::Info));
}

#[test]
fn explain_a_decision() {
    let rules = [
        url_rule("public-skip", &["^/admin/"], &["^/admin/login/"]),
        url_rule("unrelated-skip", &["^/nothing/"], &["login"]),
        rule(json!({"id": "route", "securelist": ["^/admin"]})),
        url_rule("admin", &["^/shop/", "^/admin/"], &[]),
    ];
    let analysis = RuleAnalysis::new(&rules, true).unwrap();
    let url = Targets::url_target("/admin/login");
    let explanation = analysis.explain(&Targets::new(&url, None));
    assert_eq!(explanation.url, "/admin/login/");
    assert_eq!(explanation.skipped.len(), 2);
    assert_eq!(explanation.skipped[0].id, "public-skip");
    assert_eq!(explanation.skipped[0].whitelist, "^/admin/login/");
    assert_eq!(
        explanation.skipped[0].securelist.as_deref(),
        Some("^/admin/")
    );
    assert_eq!(explanation.skipped[1].securelist, None);
    let applies = explanation.applies.as_ref().unwrap();
    assert_eq!(
        (applies.index, applies.securelist.as_str()),
        (3, "^/admin/")
    );
    let text = explanation.to_string();
    assert!(text.contains("route target: none"), "{text}");
    assert!(
        text.contains("(its securelist would not have matched anyway)"),
        "{text}"
    );
    assert!(text.contains("applies: rule 3 (id \"admin\"), securelist \"^/admin/\" matches"));

    let explanation = analysis.explain(&Targets::new(&url, Some("/admin/{*rest}")));
    assert_eq!(explanation.applies.unwrap().id, "route");
    let explanation = analysis.explain(&Targets::new("/else/", None));
    assert!(explanation.applies.is_none());
    assert!(explanation.to_string().contains("no rule applies"));
    // The same decision as the matcher.
    let matcher = RuleMatcher::new(&rules, true).unwrap();
    assert_eq!(matcher.first_applying(&Targets::new(&url, None)), Some(3));
}

#[test]
fn report_serializes() {
    let rules = [url_rule("a", &["^admin"], &[])];
    let value = serde_json::to_value(report(&rules)).unwrap();
    assert_eq!(value["rules"][0]["id"], "a");
    assert_eq!(value["rules"][0]["problems"][0]["kind"], "never_matches");
    assert_eq!(value["rules"][0]["problems"][0]["list"], "securelist");
}
