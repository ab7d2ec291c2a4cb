//! The literal index of one target kind (url or route): which rules can apply to a target.
//!
//! Built from each rule's securelist patterns: every pattern contributes one literal set
//! ([`super::literal`]), chosen among its sets as the one whose strings the fewest other
//! patterns use (then the longest). All chosen strings go into one Aho-Corasick automaton.
//! A rule with a pattern that has no set is *always* a candidate. At request time one
//! overlapping pass over the folded target yields the literals present, hence the candidate
//! rules: exactly the rules one of whose patterns can match, plus the always-candidates.
//!
//! ```text
//! rules:   0 ^/api/v2/orders/     1 ^/static/.*\.(css|js)$     2 ^/[a-z]+$
//! index:   "/api/v2/orders/" → [0]    "/static/" → [1]    always: [2]
//! target "/static/app.css/" → candidates [1, 2]
//! ```

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::literal::LiteralSet;

/// Candidate rules by literal for one target kind.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// The automaton over every chosen literal (absent when there is none).
    automaton: Option<AhoCorasick>,
    /// For literal `i`, the rules are `rules[starts[i]..starts[i + 1]]` (ascending).
    starts: Vec<u32>,
    rules: Vec<u32>,
    /// Rules that are candidates for every target (ascending).
    always: Vec<u32>,
}

/// What the index is built from: per rule of this target kind, the literal sets of each of
/// its securelist patterns.
pub(super) struct IndexInput {
    /// `(rule number, one entry per pattern: its literal sets, best first)`.
    pub(super) rules: Vec<(u32, Vec<Vec<LiteralSet>>)>,
}

impl Index {
    /// Builds the index; `Err` carries the automaton's complaint (it has a size limit).
    pub(super) fn build(input: IndexInput) -> Result<Index, String> {
        // How many patterns could use each literal: a literal many patterns share (`/api/`)
        // is a poor filter.
        let mut uses: HashMap<&str, u32> = HashMap::new();
        for (_, patterns) in &input.rules {
            for sets in patterns {
                let mut seen: Vec<&str> = sets.iter().flatten().map(String::as_str).collect();
                seen.sort_unstable();
                seen.dedup();
                for literal in seen {
                    *uses.entry(literal).or_default() += 1;
                }
            }
        }
        let mut literal_ids: HashMap<&str, usize> = HashMap::new();
        let mut literals: Vec<&str> = Vec::new();
        let mut by_literal: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        for (rule, patterns) in &input.rules {
            let mut chosen: Vec<&LiteralSet> = Vec::with_capacity(patterns.len());
            for sets in patterns {
                let best = sets.iter().min_by_key(|set| {
                    let commonest = set
                        .iter()
                        .map(|s| uses.get(s.as_str()).copied().unwrap_or(0))
                        .max()
                        .unwrap_or(0);
                    let shortest = set.iter().map(String::len).min().unwrap_or(0);
                    (commonest, std::cmp::Reverse(shortest), set.len())
                });
                match best {
                    Some(set) => chosen.push(set),
                    None => {
                        chosen.clear();
                        always.push(*rule);
                        break;
                    }
                }
            }
            for literal in chosen.into_iter().flatten() {
                let id = *literal_ids.entry(literal.as_str()).or_insert_with(|| {
                    literals.push(literal.as_str());
                    by_literal.push(Vec::new());
                    literals.len() - 1
                });
                if by_literal[id].last() != Some(rule) {
                    by_literal[id].push(*rule);
                }
            }
        }
        let automaton = if literals.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&literals)
                .map_err(|err| err.to_string())?;
            Some(built)
        };
        let mut starts = Vec::with_capacity(by_literal.len() + 1);
        let mut rules = Vec::new();
        starts.push(0);
        for list in by_literal {
            rules.extend(list);
            starts.push(u32::try_from(rules.len()).map_err(|_| "too many rules".to_owned())?);
        }
        Ok(Index {
            automaton,
            starts,
            rules,
            always,
        })
    }

    /// `true` if no rule of this kind exists.
    pub(super) fn is_empty(&self) -> bool {
        self.automaton.is_none() && self.always.is_empty()
    }

    /// Appends the candidate rules for the folded target to `out` (unsorted, maybe
    /// repeated); `found` is scratch space for the literals present.
    pub(super) fn candidates(&self, folded: &str, found: &mut Vec<u32>, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.always);
        let Some(automaton) = &self.automaton else {
            return;
        };
        found.clear();
        // The pattern ids fit in u32: the automaton refuses more patterns than that.
        found.extend(
            automaton
                .find_overlapping_iter(folded)
                .map(|hit| hit.pattern().as_u32()),
        );
        found.sort_unstable();
        found.dedup();
        for &id in found.iter() {
            let id = id as usize;
            let (start, end) = (self.starts[id] as usize, self.starts[id + 1] as usize);
            out.extend_from_slice(&self.rules[start..end]);
        }
    }

    /// How many rules are checked on every request.
    pub(super) fn always_len(&self) -> usize {
        self.always.len()
    }
}
