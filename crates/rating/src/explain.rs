//! Explanations as data (STYLE.md "Explanations are data"): every rating carries the rule set, the
//! rule that fired, the inputs it counted and notes, each a typed value. Each rule set names its
//! own kinds of rule, input and note (`cqc_rules::explain`, `combined_rules::explain`); they
//! become sentences only at the edges (gRPC, the report, the CLI) through their `Display`, so the
//! rules never format a sentence while rating, and no code reads meaning back out of one.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RuleSetVersion;

/// Why a rating is what it is: the rule set, the rule that fired (`R`), the inputs counted (`I`)
/// and anything else a reader must know (`N`: limiters, exclusions, carry-forward, departures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation<R, I, N> {
    /// e.g. `cqc-2018`.
    pub rule_set: RuleSetVersion,
    /// The rule that fired.
    pub rule: R,
    /// The inputs counted, in order.
    pub inputs: Items<I>,
    /// Notes, in the order they were made.
    pub notes: Items<N>,
}

impl<R, I, N> Explanation<R, I, N> {
    /// An explanation with no inputs and no notes yet.
    pub fn new(rule_set: RuleSetVersion, rule: R) -> Self {
        Explanation {
            rule_set,
            rule,
            inputs: Items::new(),
            notes: Items::new(),
        }
    }
}

impl<R: fmt::Display, I: fmt::Display, N: fmt::Display> Explanation<R, I, N> {
    /// The explanation in words: what the wire, the report and the CLI carry.
    pub fn text(&self) -> ExplanationText {
        ExplanationText {
            rule_set: self.rule_set.to_string(),
            rule: self.rule.to_string(),
            inputs: self.inputs.iter().map(ToString::to_string).collect(),
            notes: self.notes.iter().map(ToString::to_string).collect(),
        }
    }

    /// All lines, rule first, for terminal and JSON output (see [`ExplanationText::lines`]).
    pub fn lines(&self) -> Vec<String> {
        self.text().lines()
    }
}

/// An explanation rendered to sentences: the rule in words ("2 of 5 ratings inadequate,
/// threshold 2 → Inadequate"), each input as "label: value (date)", each note a sentence. This is
/// the form at the edges (the `oversight.common.v1.Explanation` message), and the form of
/// explanations that are made as text and never computed on (NHSI's rule sets, for now).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExplanationText {
    /// e.g. `cqc-2018`.
    pub rule_set: String,
    /// The rule that fired, in words.
    pub rule: String,
    /// The inputs counted, each as "label: value (date)".
    pub inputs: Vec<String>,
    /// Anything else a reader must know.
    pub notes: Vec<String>,
}

impl ExplanationText {
    pub fn new(rule_set: impl Into<String>, rule: impl Into<String>) -> Self {
        ExplanationText {
            rule_set: rule_set.into(),
            rule: rule.into(),
            inputs: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// All lines, rule first: "[rule set] rule", then "input: …" and "note: …".
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("[{}] {}", self.rule_set, self.rule)];
        out.extend(self.inputs.iter().map(|i| format!("input: {i}")));
        out.extend(self.notes.iter().map(|n| format!("note: {n}")));
        out
    }
}

/// The inputs or the notes of an [`Explanation`]: a list that keeps a single item inline. A rating
/// of a key question × service has one input and most aggregates one note, and an explanation is
/// made for every rating at every level, so this saves an allocation for most of them. Reads as
/// a slice.
#[derive(Clone)]
pub struct Items<T>(Repr<T>);

#[derive(Clone)]
enum Repr<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Items<T> {
    /// No items.
    pub const fn new() -> Self {
        Items(Repr::Many(Vec::new()))
    }

    /// One item.
    pub const fn one(item: T) -> Self {
        Items(Repr::One(item))
    }

    /// Adds an item at the end.
    #[inline]
    pub fn push(&mut self, item: T) {
        match &mut self.0 {
            Repr::Many(v) if !v.is_empty() => v.push(item),
            Repr::Many(_) => self.0 = Repr::One(item),
            Repr::One(_) => {
                if let Repr::One(first) = std::mem::replace(&mut self.0, Repr::Many(Vec::new())) {
                    self.0 = Repr::Many(vec![first, item]);
                }
            }
        }
    }
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items::new()
    }
}

impl<T> Deref for Items<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::One(item) => std::slice::from_ref(item),
            Repr::Many(v) => v,
        }
    }
}

impl<T> DerefMut for Items<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.0 {
            Repr::One(item) => std::slice::from_mut(item),
            Repr::Many(v) => v,
        }
    }
}

impl<T> FromIterator<T> for Items<T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        let mut iter = iter.into_iter();
        let Some(first) = iter.next() else {
            return Items::new();
        };
        let Some(second) = iter.next() else {
            return Items(Repr::One(first));
        };
        // Filtered inputs know only an upper bound; it is small, so take it and never grow.
        let (low, high) = iter.size_hint();
        let mut v = Vec::with_capacity(2 + high.unwrap_or(low));
        v.push(first);
        v.push(second);
        v.extend(iter);
        Items(Repr::Many(v))
    }
}

impl<T> Extend<T> for Items<T> {
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<T> From<Vec<T>> for Items<T> {
    fn from(v: Vec<T>) -> Self {
        Items(Repr::Many(v))
    }
}

impl<T> From<Items<T>> for Vec<T> {
    fn from(items: Items<T>) -> Self {
        match items.0 {
            Repr::One(item) => vec![item],
            Repr::Many(v) => v,
        }
    }
}

impl<'a, T> IntoIterator for &'a Items<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: PartialEq> PartialEq for Items<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for Items<T> {}

impl<T: fmt::Debug> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for Items<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Items<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(Items::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Word(&'static str);

    impl fmt::Display for Word {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    #[test]
    fn text_and_lines_render_each_part_in_order() {
        let mut e = Explanation::new(RuleSetVersion::from_static("cqc-2018"), Word("the rule"));
        e.inputs = vec![Word("a: Good"), Word("b: Inadequate")].into();
        e.notes.push(Word("a note"));
        let text = e.text();
        assert_eq!(
            text,
            ExplanationText {
                rule_set: "cqc-2018".into(),
                rule: "the rule".into(),
                inputs: vec!["a: Good".into(), "b: Inadequate".into()],
                notes: vec!["a note".into()],
            }
        );
        let want = [
            "[cqc-2018] the rule",
            "input: a: Good",
            "input: b: Inadequate",
            "note: a note",
        ];
        assert_eq!(e.lines(), want);
        assert_eq!(text.lines(), want);
    }

    #[test]
    fn items_read_as_the_same_list_however_held() {
        let mut pushed = Items::new();
        assert!(pushed.is_empty());
        for i in 0..4 {
            pushed.push(i);
            let want: Vec<i32> = (0..=i).collect();
            assert_eq!(&*pushed, want.as_slice());
            assert_eq!(pushed, want.iter().copied().collect::<Items<i32>>());
            assert_eq!(pushed, Items::from(want.clone()));
            assert_eq!(Vec::from(pushed.clone()), want);
        }
        let one: Items<i32> = std::iter::once(7).collect();
        assert_eq!(one.len(), 1);
        assert_eq!(format!("{one:?}"), "[7]");
        let mut extended = one.clone();
        extended.extend([8, 9]);
        assert_eq!(&*extended, &[7, 8, 9]);
        let json = serde_json::to_string(&extended).expect("serialise");
        assert_eq!(json, "[7,8,9]");
        assert_eq!(
            serde_json::from_str::<Items<i32>>(&json).expect("parse"),
            extended
        );
    }
}
