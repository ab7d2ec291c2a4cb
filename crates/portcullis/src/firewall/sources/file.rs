//! Rule files: a JSON array of rule objects, or XML `<rules><rule>…</rule></rules>`.
//!
//! Both formats are cbsecurity's, unchanged. Keys are read in any spelling and case
//! (`secureList`, `securelist`, `secure_list`). In XML every value is the trimmed text of its
//! element, so `<useSSL>false</useSSL>` and `<httpMethods>GET,POST</httpMethods>` work.
//!
//! ```text
//! [ { "secureList": "^/admin/", "roles": "admin", "match": "url" } ]
//!
//! <rules>
//!   <rule><secureList>^/admin/</secureList><roles>admin</roles><match>url</match></rule>
//! </rules>
//! ```

use std::path::Path;

use serde_json::{Map, Value};

use crate::settings::RuleSpec;
use crate::{Error, Result};

/// The largest rule file read, in bytes.
pub const MAX_FILE_LEN: u64 = 16 << 20;
/// The most XML nodes (elements, text, comments) in a rule file.
pub const MAX_XML_NODES: u32 = 1_000_000;

/// Reads a rule file's text. `key` is the setting that named the file, `path` the resolved
/// path, `shown` the path as written.
pub(super) fn read(key: &str, path: &Path, shown: &str) -> Result<String> {
    let not_usable = |what: String| Error::config(key, format!("rules file {shown:?} {what}"));
    let meta = std::fs::metadata(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => {
            not_usable(format!("not found (looked for {})", path.display()))
        }
        _ => not_usable(format!("cannot be read: {err}")),
    })?;
    if !meta.is_file() {
        return Err(not_usable("is not a file".to_owned()));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(not_usable(format!(
            "is larger than {} MiB",
            MAX_FILE_LEN >> 20
        )));
    }
    std::fs::read_to_string(path).map_err(|err| not_usable(format!("cannot be read: {err}")))
}

/// The id a raw rule gives, for error messages.
fn given_id(rule: &Map<String, Value>) -> Option<String> {
    rule.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("id"))
        .and_then(|(_, value)| match value {
            Value::String(id) if !id.trim().is_empty() => Some(id.trim().to_owned()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
}

/// Where rule `number` (from 1) of `source` is, for messages.
fn rule_name(source: &str, number: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{source}: rule {number} (id {id:?})"),
        None => format!("{source}: rule {number}"),
    }
}

/// Parses a JSON rule file: an array of rule objects.
pub(super) fn parse_json(source: &str, text: &str) -> Result<Vec<RuleSpec>> {
    let document: Value = serde_json::from_str(text)
        .map_err(|err| Error::config(source, format!("invalid JSON: {err}")))?;
    let Value::Array(items) = document else {
        return Err(Error::config(
            source,
            "must be a JSON array of rule objects ([{\"secureList\": \"…\"}, …])",
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let id = item.as_object().and_then(given_id);
            let name = rule_name(source, index + 1, id.as_deref());
            if !item.is_object() {
                return Err(Error::config(name, "must be a JSON object of rule keys"));
            }
            serde_json::from_value(item).map_err(|err| Error::config(name, err.to_string()))
        })
        .collect()
}

/// Parses an XML rule file: root `<rules>`, `<rule>` children, one child element per key.
pub(super) fn parse_xml(source: &str, text: &str) -> Result<Vec<RuleSpec>> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
    };
    let document = roxmltree::Document::parse_with_options(text, options)
        .map_err(|err| Error::config(source, format!("invalid XML: {err}")))?;
    let at = |node: roxmltree::Node<'_, '_>| {
        let pos = document.text_pos_at(node.range().start);
        format!("line {}, column {}", pos.row, pos.col)
    };
    let root = document.root_element();
    if !root.tag_name().name().eq_ignore_ascii_case("rules") {
        return Err(Error::config(
            source,
            format!(
                "the root element must be <rules>, not <{}>",
                root.tag_name().name()
            ),
        ));
    }
    let mut rules = Vec::new();
    for node in root.children() {
        if node.is_text() && node.text().is_some_and(|t| t.trim().is_empty()) {
            continue;
        }
        if !node.is_element() {
            if node.is_text() {
                return Err(Error::config(
                    source,
                    format!("text outside a <rule> at {}", at(node)),
                ));
            }
            continue; // comments and processing instructions
        }
        let number = rules.len() + 1;
        if !node.tag_name().name().eq_ignore_ascii_case("rule") {
            return Err(Error::config(
                source,
                format!(
                    "<{}> at {}: only <rule> elements may appear in <rules>",
                    node.tag_name().name(),
                    at(node)
                ),
            ));
        }
        let keys = xml_rule(node, &at)
            .map_err(|reason| Error::config(rule_name(source, number, None), reason))?;
        let id = given_id(&keys);
        let spec = serde_json::from_value(Value::Object(keys)).map_err(|err| {
            Error::config(
                rule_name(source, number, id.as_deref()),
                format!("{err} (the <rule> at {})", at(node)),
            )
        })?;
        rules.push(spec);
    }
    Ok(rules)
}

/// The keys of one `<rule>` element.
fn xml_rule(
    rule: roxmltree::Node<'_, '_>,
    at: &dyn Fn(roxmltree::Node<'_, '_>) -> String,
) -> std::result::Result<Map<String, Value>, String> {
    if rule.attributes().len() > 0 {
        return Err(format!(
            "attributes are not read (at {}): write each key as a child element, e.g. \
             <secureList>^/admin/</secureList>",
            at(rule)
        ));
    }
    let mut keys = Map::new();
    for child in rule.children() {
        if child.is_text() {
            if child.text().is_some_and(|t| !t.trim().is_empty()) {
                return Err(format!(
                    "text directly inside <rule> at {}: put it in a key element",
                    at(child)
                ));
            }
            continue;
        }
        if !child.is_element() {
            continue;
        }
        let name = child.tag_name().name();
        if child.children().any(|n| n.is_element()) {
            return Err(format!(
                "<{name}> at {} holds elements: a key's value is text",
                at(child)
            ));
        }
        let value: String = child
            .children()
            .filter_map(|n| n.text())
            .collect::<String>()
            .trim()
            .to_owned();
        if keys.insert(name.to_owned(), Value::String(value)).is_some() {
            return Err(format!("<{name}> is given twice (at {})", at(child)));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rules() {
        let rules = parse_json(
            "r.json",
            r#"[{"secureList": "^/a/", "useSSL": "true"}, {"id": 7, "securelist": "b"}]"#,
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].id.as_deref(), Some("7"));
    }

    #[test]
    fn json_errors() {
        let err = parse_json("r.json", "[{\"secureList\": \"a\",}]").unwrap_err();
        assert!(
            err.to_string().starts_with("r.json: invalid JSON:")
                && err.to_string().contains("line 1 column 21"),
            "{err}"
        );
        let err = parse_json("r.json", "{}").unwrap_err();
        assert!(err.to_string().contains("must be a JSON array"));
        let err = parse_json("r.json", r#"[{}, {"id": "x", "match": "nope"}]"#).unwrap_err();
        assert!(
            err.to_string().starts_with("r.json: rule 2 (id \"x\"): "),
            "{err}"
        );
        let err = parse_json("r.json", "[3]").unwrap_err();
        assert!(err.to_string().starts_with("r.json: rule 1: must be"));
    }

    #[test]
    fn xml_rules() {
        let rules = parse_xml(
            "r.xml",
            "<?xml version=\"1.0\"?>\n<rules>\n <!-- admin -->\n <rule>\n  <secureList> ^/a/ </secureList>\n  \
             <useSSL>false</useSSL><httpMethods>get,post</httpMethods><whiteList/>\n </rule>\n</rules>",
        )
        .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].securelist, ["^/a/"]);
        assert_eq!(rules[0].use_ssl, Some(false));
        assert_eq!(rules[0].http_methods, ["GET", "POST"]);
    }

    #[test]
    fn xml_errors() {
        let cases = [
            ("<rules><rule>", "r.xml: invalid XML:"),
            ("<rule/>", "the root element must be <rules>"),
            ("<rules><x/></rules>", "only <rule> elements"),
            ("<rules>text</rules>", "text outside a <rule>"),
            (
                "<rules><rule secureList=\"a\"/></rules>",
                "r.xml: rule 1: attributes are not read",
            ),
            (
                "<rules><rule><roles>a</roles><roles>b</roles></rule></rules>",
                "is given twice",
            ),
            (
                "<rules><rule><roles><x/></roles></rule></rules>",
                "holds elements",
            ),
            (
                "<rules>\n<rule><id>z</id><match>nope</match></rule></rules>",
                "r.xml: rule 1 (id \"z\"): ",
            ),
            ("<!DOCTYPE r [<!ENTITY a \"b\">]><rules/>", "invalid XML"),
        ];
        for (text, expected) in cases {
            let err = parse_xml("r.xml", text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
