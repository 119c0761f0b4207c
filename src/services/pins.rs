//! Pinned positions: the slots of a playlist whose entries stay where they
//! are. What every rewrite that honours them shares: which slots a shuffle
//! holds ([`held_slots`]), and taking entries out of an order while the
//! pinned ones keep their slots ([`remove_around_pins`]), for a dedupe
//! (and anything else that removes entries, such as a rotation).
//!
//! A pin is a slot, not a track: the entry in slot 3 is whatever is third.
//! A slot past the end of the order pins nothing.

use std::collections::BTreeSet;

/// The slots a shuffle of `n` entries leaves in place: the playlist's
/// `pinned` slots within the order, and `0..keep_first`.
pub fn held_slots(pinned: &BTreeSet<usize>, keep_first: usize, n: usize) -> BTreeSet<usize> {
    pinned
        .range(..n)
        .copied()
        .chain(0..keep_first.min(n))
        .collect()
}

/// `entries` without those at the positions in `removed`. An entry in a
/// `pinned` slot keeps its slot while the shorter order still reaches it;
/// every other entry that stays closes ranks around them, in its order
/// (a pinned entry whose slot now lies past the end closes ranks too).
/// Callers never remove a pinned entry; one in `removed` goes all the same.
pub fn remove_around_pins<T: Clone>(
    entries: &[T],
    removed: &BTreeSet<usize>,
    pinned: &BTreeSet<usize>,
) -> Vec<T> {
    let n = entries.len();
    let left = n - removed.range(..n).count();
    let held: BTreeSet<usize> = pinned
        .range(..left)
        .copied()
        .filter(|p| !removed.contains(p))
        .collect();
    let mut rest = (0..n)
        .filter(|i| !removed.contains(i) && !held.contains(i))
        .map(|i| &entries[i]);
    (0..left)
        .map(|slot| {
            let from = if held.contains(&slot) {
                Some(&entries[slot])
            } else {
                rest.next()
            };
            // Both counts are `left - held.len()`: the iterator never runs dry.
            from.expect("one entry for each free slot").clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[usize]) -> BTreeSet<usize> {
        items.iter().copied().collect()
    }

    #[test]
    fn held_slots_add_the_kept_prefix_and_drop_slots_past_the_end() {
        assert_eq!(held_slots(&set(&[1, 7, 40]), 3, 10), set(&[0, 1, 2, 7]));
        assert_eq!(held_slots(&set(&[]), 20, 4), set(&[0, 1, 2, 3]));
    }

    #[test]
    fn removing_keeps_pinned_entries_in_their_slots() {
        let entries = ["a", "b", "c", "d", "e", "f"];
        // Slot 4 ("e") is pinned; "b" goes: "c" and "d" close ranks,
        // "e" stays fifth, "f" fills the slot "b" left at the end.
        assert_eq!(
            remove_around_pins(&entries, &set(&[1]), &set(&[4])),
            ["a", "c", "d", "f", "e"]
        );
        // Without pins it is a plain removal.
        assert_eq!(
            remove_around_pins(&entries, &set(&[0, 5]), &set(&[])),
            ["b", "c", "d", "e"]
        );
    }

    #[test]
    fn a_pinned_entry_past_the_new_end_closes_ranks() {
        let entries = ["a", "a", "b", "c"];
        assert_eq!(
            remove_around_pins(&entries, &set(&[1]), &set(&[3])),
            ["a", "b", "c"]
        );
    }
}
