//! The list's keyword filter without scanning every name: each name is indexed by its
//! fragments ("grams") of one to three characters, and a keyword's page walks the
//! profiles of one fragment it must contain, newest first, checking the whole keyword.

use std::collections::BTreeSet;

/// The longest fragment indexed: a keyword this long or shorter is itself a fragment.
pub const GRAM_MAX_CHARS: usize = 3;

/// A fragment held by at most this many profiles is walked whatever the other filters
/// are: its whole posting list is a few milliseconds of index reads.
pub const SPARSE_POSTINGS: u64 = 1_000;

/// A longer keyword has one three-character fragment per position; this many of them,
/// spread over the keyword, are enough to find a rare one.
pub const PROBES_MAX: usize = 8;

/// Every distinct fragment of one to three characters of `name`, as the index holds
/// them (characters, not bytes: names are Korean).
pub fn name_grams(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut grams = BTreeSet::new();
    for len in 1..=GRAM_MAX_CHARS {
        for window in chars.windows(len) {
            grams.insert(window.iter().collect::<String>());
        }
    }
    grams.into_iter().collect()
}

/// The fragments a name containing `keyword` must have, one of which the list walks:
/// the keyword itself when it is short enough to be one, else up to PROBES_MAX of its
/// three-character fragments (first and last included).
pub fn keyword_probes(keyword: &str) -> Vec<String> {
    let chars: Vec<char> = keyword.chars().collect();
    if chars.len() <= GRAM_MAX_CHARS {
        return vec![keyword.to_owned()];
    }
    let windows: Vec<String> = chars
        .windows(GRAM_MAX_CHARS)
        .map(|w| w.iter().collect())
        .collect();
    let last = windows.len() - 1;
    let picks = PROBES_MAX.min(windows.len());
    let mut probes: Vec<String> = Vec::with_capacity(picks);
    for i in 0..picks {
        let gram = &windows[if picks == 1 {
            0
        } else {
            i * last / (picks - 1)
        }];
        if !probes.contains(gram) {
            probes.push(gram.clone());
        }
    }
    probes
}

/// How a keyword's page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordPlan {
    /// A fragment no name has: no profile matches.
    NoMatch,
    /// Walk the profiles of `keyword_probes(..)[i]`, newest first.
    WalkGram(usize),
    /// Every fragment is common and a category or region filter narrows more: walk that
    /// filter's index and check the name.
    WalkFilterIndex,
}

/// Whether the plan depends on the probes' counts: not for a lone probe with no category
/// or region filter (it is walked either way; an empty one yields an empty page).
pub fn counts_needed(probes: usize, has_equality_filter: bool) -> bool {
    probes > 1 || has_equality_filter
}

/// Chooses from each probe's posting count, counted up to just past SPARSE_POSTINGS.
pub fn plan_keyword(postings: &[u64], has_equality_filter: bool) -> KeywordPlan {
    let Some((rarest, &count)) = postings.iter().enumerate().min_by_key(|(_, n)| **n) else {
        return KeywordPlan::WalkFilterIndex;
    };
    match count {
        0 => KeywordPlan::NoMatch,
        n if n <= SPARSE_POSTINGS || !has_equality_filter => KeywordPlan::WalkGram(rarest),
        _ => KeywordPlan::WalkFilterIndex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_every_fragment_of_up_to_three_characters_once() {
        assert_eq!(name_grams("김"), ["김"]);
        assert_eq!(
            name_grams("김철수"),
            ["김", "김철", "김철수", "수", "철", "철수"]
        );
        // Repeated fragments are one entry.
        assert_eq!(name_grams("아아아아"), ["아", "아아", "아아아"]);
        assert_eq!(name_grams("ab c").len(), 4 + 3 + 2);
        assert!(name_grams("").is_empty());
    }

    #[test]
    fn probes_are_the_keyword_or_its_spread_trigrams() {
        let table: [(&str, &[&str]); 6] = [
            ("김", &["김"]),
            ("철수", &["철수"]),
            ("김철수", &["김철수"]),
            ("김철수님", &["김철수", "철수님"]),
            (
                "100%_전문가",
                &["100", "00%", "0%_", "%_전", "_전문", "전문가"],
            ),
            ("아아아아아", &["아아아"]),
        ];
        for (keyword, probes) in table {
            assert_eq!(keyword_probes(keyword), probes, "{keyword}");
        }
        // 30 distinct syllables: 28 trigrams, PROBES_MAX of them from first to last.
        let long: String = (0..30u32)
            .map(|i| char::from_u32(0xAC00 + 28 * i).unwrap())
            .collect();
        let probes = keyword_probes(&long);
        assert_eq!(probes.len(), PROBES_MAX);
        assert_eq!(probes[0], long.chars().take(3).collect::<String>());
        assert_eq!(
            probes[PROBES_MAX - 1],
            long.chars().skip(27).collect::<String>()
        );
    }

    #[test]
    fn a_lone_probe_without_filters_needs_no_counts() {
        assert!(!counts_needed(1, false));
        assert!(counts_needed(1, true) && counts_needed(2, false));
    }

    #[test]
    fn plan_walks_a_sparse_fragment_or_the_narrower_index() {
        use KeywordPlan::*;
        let saturated = SPARSE_POSTINGS + 1;
        let table: [(&[u64], bool, KeywordPlan); 7] = [
            (&[5], false, WalkGram(0)),
            (&[5], true, WalkGram(0)),
            (&[saturated], false, WalkGram(0)),
            (&[saturated], true, WalkFilterIndex),
            (&[saturated, 7, 900], true, WalkGram(1)),
            (&[saturated, 0, 3], false, NoMatch),
            (&[SPARSE_POSTINGS, saturated], true, WalkGram(0)),
        ];
        for (postings, has_equality_filter, plan) in table {
            assert_eq!(
                plan_keyword(postings, has_equality_filter),
                plan,
                "{postings:?} {has_equality_filter}"
            );
        }
    }
}
