//! The literal index of one target kind (url or route): which rules can apply to a target.
//!
//! Built from each rule's securelist patterns: every pattern contributes one literal set
//! ([`super::literal`]), chosen among its sets as the one whose strings the fewest other
//! patterns use (then the longest). All chosen strings go into one Aho-Corasick automaton.
//! A rule with a pattern that has no set is *always* a candidate. At request time one
//! overlapping pass over the folded target yields the literals present, hence the candidate
//! rules: every rule one of whose patterns can match, plus the always-candidates.
//!
//! A pattern that is a plain literal search ([`Plain`]: `^/api/v2/`, `admin`) needs no regex:
//! its literal found (at the start of the target, for `^…`) *is* a match, so the candidate is
//! marked *confirmed*.
//!
//! ```text
//! rules:   0 ^/api/v2/orders/     1 ^/static/.*\.(css|js)$     2 ^/[a-z]+$
//! index:   "/api/v2/orders/" → [0 if at start: confirmed]    "/static/" → [1]    always: [2]
//! target "/static/app.css/" → candidates [1 (check its regexes), 2 (check its regexes)]
//! ```

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::literal::{LiteralSet, Plain};

/// The most literals for which the index tries the fastest automaton (a DFA); above, or
/// if the DFA would be too large, the automaton picks its compact form.
const DFA_LITERALS: usize = 50_000;

/// How a literal found in the target relates to a rule's securelist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The rule may apply: search its securelist regexes.
    Regex,
    /// The rule's securelist matches if the literal starts the target.
    Prefix,
    /// The rule's securelist matches.
    Contains,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    rule: u32,
    check: Check,
}

/// A candidate rule: `rule << 1 | 1` when its securelist must still be searched,
/// `rule << 1` when a plain literal already matched it. Sorting puts rules in order, the
/// confirmed form of a rule first.
pub(super) type Candidate = u64;

/// The rule of a candidate, and whether its securelist is known to match.
pub(super) fn decode(candidate: Candidate) -> (usize, bool) {
    // The rule number came from a u32.
    ((candidate >> 1) as usize, candidate & 1 == 0)
}

fn candidate(rule: u32, confirmed: bool) -> Candidate {
    u64::from(rule) << 1 | u64::from(!confirmed)
}

/// Candidate rules by literal for one target kind.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// The automaton over every chosen literal (absent when there is none).
    automaton: Option<AhoCorasick>,
    /// For literal `i`, the entries are `entries[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    entries: Vec<Entry>,
    /// Rules that are candidates for every target (ascending).
    always: Vec<u32>,
}

/// One securelist pattern, as the index sees it.
pub(super) struct PatternInput {
    /// Its literal sets, best first.
    pub(super) sets: Vec<LiteralSet>,
    /// Whether it is a plain literal search.
    pub(super) plain: Option<Plain>,
}

/// What the index is built from: per rule of this target kind (by number), its securelist
/// patterns.
pub(super) type IndexInput = Vec<(u32, Vec<PatternInput>)>;

impl Index {
    /// Builds the index; `Err` carries the automaton's complaint (it has a size limit).
    pub(super) fn build(input: &IndexInput) -> Result<Index, String> {
        // How many patterns could use each literal: a literal many patterns share (`/api/`)
        // is a poor filter.
        let mut uses: HashMap<&str, u32> = HashMap::new();
        for (_, patterns) in input {
            for pattern in patterns {
                let mut seen: Vec<&str> =
                    pattern.sets.iter().flatten().map(String::as_str).collect();
                seen.sort_unstable();
                seen.dedup();
                for literal in seen {
                    *uses.entry(literal).or_default() += 1;
                }
            }
        }
        let mut literal_ids: HashMap<&str, usize> = HashMap::new();
        let mut literals: Vec<&str> = Vec::new();
        let mut by_literal: Vec<Vec<Entry>> = Vec::new();
        let mut always = Vec::new();
        for (rule, patterns) in input {
            let mut chosen: Vec<(&str, Check)> = Vec::new();
            for pattern in patterns {
                match &pattern.plain {
                    Some(Plain::Prefix(literal)) => chosen.push((literal, Check::Prefix)),
                    Some(Plain::Contains(literal)) => chosen.push((literal, Check::Contains)),
                    None => {
                        let best = pattern.sets.iter().min_by_key(|set| {
                            let commonest = set
                                .iter()
                                .map(|s| uses.get(s.as_str()).copied().unwrap_or(0))
                                .max()
                                .unwrap_or(0);
                            let shortest = set.iter().map(String::len).min().unwrap_or(0);
                            (commonest, std::cmp::Reverse(shortest), set.len())
                        });
                        let Some(set) = best else {
                            chosen.clear();
                            always.push(*rule);
                            break;
                        };
                        chosen.extend(set.iter().map(|s| (s.as_str(), Check::Regex)));
                    }
                }
            }
            for (literal, check) in chosen {
                let id = *literal_ids.entry(literal).or_insert_with(|| {
                    literals.push(literal);
                    by_literal.push(Vec::new());
                    literals.len() - 1
                });
                by_literal[id].push(Entry { rule: *rule, check });
            }
        }
        let automaton = if literals.is_empty() {
            None
        } else {
            Some(automaton(&literals)?)
        };
        let mut starts = Vec::with_capacity(by_literal.len() + 1);
        let mut entries = Vec::new();
        starts.push(0);
        for list in by_literal {
            entries.extend(list);
            starts.push(u32::try_from(entries.len()).map_err(|_| "too many rules".to_owned())?);
        }
        Ok(Index {
            automaton,
            starts,
            entries,
            always,
        })
    }

    /// `true` if no rule of this kind exists.
    pub(super) fn is_empty(&self) -> bool {
        self.automaton.is_none() && self.always.is_empty()
    }

    /// Appends the candidate rules for the folded target to `out` (unsorted, maybe
    /// repeated); `seen` is scratch space for the literals already found.
    pub(super) fn candidates(&self, folded: &str, seen: &mut Vec<u32>, out: &mut Vec<Candidate>) {
        out.extend(self.always.iter().map(|&rule| candidate(rule, false)));
        let Some(automaton) = &self.automaton else {
            return;
        };
        seen.clear();
        for hit in automaton.find_overlapping_iter(folded) {
            // Only a literal's first occurrence counts: it is the one at the start of the
            // target, if any (hits come in order of their end), and later ones add nothing.
            let literal = hit.pattern().as_u32();
            if seen.contains(&literal) {
                continue;
            }
            seen.push(literal);
            let id = hit.pattern().as_usize();
            let (Some(&start), Some(&end)) = (self.starts.get(id), self.starts.get(id + 1)) else {
                continue;
            };
            let entries = self
                .entries
                .get(start as usize..end as usize)
                .unwrap_or_default();
            for entry in entries {
                match entry.check {
                    Check::Regex => out.push(candidate(entry.rule, false)),
                    Check::Contains => out.push(candidate(entry.rule, true)),
                    Check::Prefix if hit.start() == 0 => out.push(candidate(entry.rule, true)),
                    // Elsewhere than at the start, this literal says nothing about the rule.
                    Check::Prefix => {}
                }
            }
        }
    }

    /// How many rules are checked on every request.
    pub(super) fn always_len(&self) -> usize {
        self.always.len()
    }
}

/// The automaton over the literals: a DFA when it fits (fastest), else the crate's choice.
fn automaton(literals: &[&str]) -> Result<AhoCorasick, String> {
    let builder = |kind| {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(kind)
            .build(literals)
    };
    if literals.len() <= DFA_LITERALS {
        if let Ok(dfa) = builder(Some(AhoCorasickKind::DFA)) {
            return Ok(dfa);
        }
    }
    builder(None).map_err(|err| err.to_string())
}
