//! A value for some of the five key questions, held in place: what every rating level has (a key
//! question × service rating, a location's and a trust's key questions).

use std::fmt;
use std::ops::Index;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::KeyQuestion;

/// The key questions in order, for iterators that hand out `&KeyQuestion`.
static KEY_QUESTIONS: [KeyQuestion; 5] = KeyQuestion::ALL;

/// A map from key question to `T` with the `BTreeMap<KeyQuestion, T>` interface the rules and the
/// services use (`get`, `insert`, `entry`, `iter` in key question order, `map[&kq]`), stored as
/// five slots in place. A trust is rated at every level at once, so the rules build thousands of
/// these per second: no allocation, no tree to rebalance, no node to free.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyQuestionMap<T> {
    slots: [Option<T>; 5],
}

impl<T> KeyQuestionMap<T> {
    /// No key question yet.
    pub const fn new() -> Self {
        KeyQuestionMap {
            slots: [None, None, None, None, None],
        }
    }

    #[inline]
    fn slot(kq: KeyQuestion) -> usize {
        kq as usize
    }

    #[inline]
    pub fn get(&self, kq: &KeyQuestion) -> Option<&T> {
        self.slots[Self::slot(*kq)].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, kq: &KeyQuestion) -> Option<&mut T> {
        self.slots[Self::slot(*kq)].as_mut()
    }

    #[inline]
    pub fn contains_key(&self, kq: &KeyQuestion) -> bool {
        self.get(kq).is_some()
    }

    /// Sets the value of `kq`, returning the one it replaces.
    #[inline]
    pub fn insert(&mut self, kq: KeyQuestion, value: T) -> Option<T> {
        let slot = &mut self.slots[Self::slot(kq)];
        if slot.is_none() {
            // Filled in place: `replace` would move the empty slot out first, and a rated
            // result is big.
            *slot = Some(value);
            None
        } else {
            slot.replace(value)
        }
    }

    #[inline]
    pub fn remove(&mut self, kq: &KeyQuestion) -> Option<T> {
        self.slots[Self::slot(*kq)].take()
    }

    /// The slot of `kq`, to fill if empty.
    #[inline]
    pub fn entry(&mut self, kq: KeyQuestion) -> Entry<'_, T> {
        Entry {
            slot: &mut self.slots[Self::slot(kq)],
        }
    }

    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// The key questions that have a value, with it, in key question order.
    #[inline]
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            slots: KEY_QUESTIONS.iter().zip(self.slots.iter()),
        }
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&KeyQuestion, &mut T)> {
        KEY_QUESTIONS
            .iter()
            .zip(&mut self.slots)
            .filter_map(|(kq, v)| Some((kq, v.as_mut()?)))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &KeyQuestion> {
        self.iter().map(|(kq, _)| kq)
    }

    #[inline]
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.slots.iter().flatten()
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }
}

/// The entries of a [`KeyQuestionMap`] in key question order.
pub struct Iter<'a, T> {
    slots: std::iter::Zip<std::slice::Iter<'static, KeyQuestion>, std::slice::Iter<'a, Option<T>>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (&'a KeyQuestion, &'a T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.slots
            .by_ref()
            .find_map(|(kq, v)| Some((kq, v.as_ref()?)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.slots.size_hint().1)
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        while let Some((kq, v)) = self.slots.next_back() {
            if let Some(v) = v {
                return Some((kq, v));
            }
        }
        None
    }
}

/// The slot of one key question in a [`KeyQuestionMap`].
pub struct Entry<'a, T> {
    slot: &'a mut Option<T>,
}

impl<'a, T> Entry<'a, T> {
    #[inline]
    pub fn or_insert(self, value: T) -> &'a mut T {
        self.slot.get_or_insert(value)
    }

    #[inline]
    pub fn or_insert_with(self, value: impl FnOnce() -> T) -> &'a mut T {
        self.slot.get_or_insert_with(value)
    }
}

impl<T> Default for KeyQuestionMap<T> {
    fn default() -> Self {
        KeyQuestionMap::new()
    }
}

impl<T> Index<&KeyQuestion> for KeyQuestionMap<T> {
    type Output = T;

    /// The value of `kq`; like a map's index, a missing key is a bug and panics.
    fn index(&self, kq: &KeyQuestion) -> &T {
        match self.get(kq) {
            Some(v) => v,
            None => panic!("no value for key question {kq}"),
        }
    }
}

impl<T> FromIterator<(KeyQuestion, T)> for KeyQuestionMap<T> {
    fn from_iter<I: IntoIterator<Item = (KeyQuestion, T)>>(iter: I) -> Self {
        let mut map = KeyQuestionMap::new();
        map.extend(iter);
        map
    }
}

impl<T> Extend<(KeyQuestion, T)> for KeyQuestionMap<T> {
    fn extend<I: IntoIterator<Item = (KeyQuestion, T)>>(&mut self, iter: I) {
        for (kq, v) in iter {
            self.insert(kq, v);
        }
    }
}

impl<T> IntoIterator for KeyQuestionMap<T> {
    type Item = (KeyQuestion, T);
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        IntoIter {
            slots: KeyQuestion::ALL.into_iter().zip(self.slots),
        }
    }
}

/// The entries of a [`KeyQuestionMap`] by value, in key question order.
pub struct IntoIter<T> {
    slots: std::iter::Zip<std::array::IntoIter<KeyQuestion, 5>, std::array::IntoIter<Option<T>, 5>>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = (KeyQuestion, T);

    fn next(&mut self) -> Option<Self::Item> {
        self.slots.by_ref().find_map(|(kq, v)| Some((kq, v?)))
    }
}

impl<'a, T> IntoIterator for &'a KeyQuestionMap<T> {
    type Item = (&'a KeyQuestion, &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for KeyQuestionMap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for KeyQuestionMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for KeyQuestionMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = KeyQuestionMap<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from key question to value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
                let mut map = KeyQuestionMap::new();
                while let Some((kq, v)) = entries.next_entry::<KeyQuestion, T>()? {
                    map.insert(kq, v);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn behaves_like_a_btree_map_of_key_questions() {
        // The same operations on both, in an order that is not key question order.
        let ops = [
            (KeyQuestion::WellLed, 5),
            (KeyQuestion::Safe, 1),
            (KeyQuestion::Caring, 3),
            (KeyQuestion::Safe, 10),
        ];
        let mut map = KeyQuestionMap::new();
        let mut tree = BTreeMap::new();
        for (kq, v) in ops {
            assert_eq!(map.insert(kq, v), tree.insert(kq, v));
        }
        let got: Vec<(KeyQuestion, i32)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        assert!(map.iter().rev().eq(tree.iter().rev()));
        let want: Vec<(KeyQuestion, i32)> = tree.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want);
        assert_eq!(map.len(), tree.len());
        assert_eq!(map[&KeyQuestion::Safe], 10);
        assert_eq!(map.get(&KeyQuestion::Effective), None);
        assert!(map.values().copied().eq(tree.values().copied()));
        assert!(map.keys().eq(tree.keys()));
        *map.entry(KeyQuestion::Effective).or_insert_with(|| 2) += 0;
        *map.entry(KeyQuestion::Safe).or_insert(99) += 1;
        assert_eq!(map[&KeyQuestion::Effective], 2);
        assert_eq!(map[&KeyQuestion::Safe], 11);
        assert_eq!(map.remove(&KeyQuestion::Caring), Some(3));
        assert!(!map.contains_key(&KeyQuestion::Caring));
        let owned: Vec<(KeyQuestion, i32)> = map.clone().into_iter().collect();
        assert_eq!(
            owned,
            [
                (KeyQuestion::Safe, 11),
                (KeyQuestion::Effective, 2),
                (KeyQuestion::WellLed, 5)
            ]
        );
        assert_eq!(owned.into_iter().collect::<KeyQuestionMap<i32>>(), map);
        assert!(KeyQuestionMap::<i32>::new().is_empty());
    }

    #[test]
    fn serialises_as_a_map() {
        let map: KeyQuestionMap<u8> = [(KeyQuestion::Caring, 3), (KeyQuestion::Safe, 1)]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&map).expect("serialise");
        let tree: BTreeMap<KeyQuestion, u8> = map.clone().into_iter().collect();
        assert_eq!(json, serde_json::to_string(&tree).expect("serialise"));
        assert_eq!(
            serde_json::from_str::<KeyQuestionMap<u8>>(&json).expect("parse"),
            map
        );
        assert_eq!(format!("{map:?}"), format!("{tree:?}"));
    }
}
