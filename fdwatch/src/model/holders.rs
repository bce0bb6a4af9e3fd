//! The (table, fd) pairs that refer to one object. Almost every object has a single
//! holder, kept inline: the enum is 16 bytes, where a `Vec` is 24 plus a heap chunk
//! and a `SmallVec` with one inline is 24. Every tracked object pays it.
//!
//! Two or more holders live in a list of the model's `HolderLists`, reused once freed.
//! A `dup2(1, 100); close(100)` loop turns fd 1's object from one holder to two and
//! back on every iteration; with a list allocated each time that was two mallocs and
//! two frees per iteration (perf, with `--events` at 500k events/s).
use super::TableId;

pub type Holder = (TableId, i32);

#[derive(Debug, Default)]
pub enum Holders {
    #[default]
    None,
    /// Its own fields, not a `Holder` tuple: the tag then fits in the tuple's padding.
    One(TableId, i32),
    /// Two or more (a pipe after fork, stdio shared by a whole session): list `n` of
    /// the model's `HolderLists`.
    Many(u32),
}

/// The lists of objects with two or more holders; a freed list keeps its buffer for
/// the next object.
#[derive(Debug, Default)]
pub struct HolderLists {
    lists: Vec<Vec<Holder>>,
    free: Vec<u32>,
}

impl HolderLists {
    fn take(&mut self, first: Holder, second: Holder) -> u32 {
        let n = match self.free.pop() {
            Some(n) => n,
            None => {
                self.lists.push(Vec::new());
                // As many lists as objects with two holders: far below 2^32.
                u32::try_from(self.lists.len() - 1).unwrap_or(u32::MAX)
            }
        };
        if let Some(list) = self.lists.get_mut(n as usize) {
            list.extend([first, second]);
        }
        n
    }

    fn give_back(&mut self, n: u32) {
        if let Some(list) = self.lists.get_mut(n as usize) {
            list.clear();
            self.free.push(n);
        }
    }

    fn list(&self, n: u32) -> &[Holder] {
        self.lists.get(n as usize).map_or(&[], Vec::as_slice)
    }

    /// Give back the buffers of free lists and the free lists at the end.
    pub fn shrink_to_fit(&mut self) {
        while self.lists.last().is_some_and(Vec::is_empty) {
            self.lists.pop();
        }
        let len = self.lists.len() as u32;
        self.free.retain(|&n| n < len);
        for &n in &self.free {
            self.lists[n as usize] = Vec::new();
        }
        crate::heap::shrink_vec(&mut self.lists);
        crate::heap::shrink_vec(&mut self.free);
    }
}

impl Holders {
    pub fn is_empty(&self) -> bool {
        matches!(self, Holders::None)
    }

    pub fn push(&mut self, lists: &mut HolderLists, holder: Holder) {
        match *self {
            Holders::None => *self = Holders::One(holder.0, holder.1),
            Holders::One(table, fd) => *self = Holders::Many(lists.take((table, fd), holder)),
            Holders::Many(n) => {
                if let Some(list) = lists.lists.get_mut(n as usize) {
                    list.push(holder);
                }
            }
        }
    }

    /// Forget `holder`; false if it was not there.
    pub fn remove(&mut self, lists: &mut HolderLists, holder: Holder) -> bool {
        match *self {
            Holders::None => false,
            Holders::One(table, fd) => {
                let found = (table, fd) == holder;
                if found {
                    *self = Holders::None;
                }
                found
            }
            Holders::Many(n) => {
                let Some(list) = lists.lists.get_mut(n as usize) else { return false };
                let Some(i) = list.iter().position(|h| *h == holder) else { return false };
                list.swap_remove(i);
                if let [(table, fd)] = list[..] {
                    *self = Holders::One(table, fd);
                    lists.give_back(n);
                }
                true
            }
        }
    }

    pub fn iter<'a>(&'a self, lists: &'a HolderLists) -> impl Iterator<Item = Holder> + 'a {
        let (one, many): (Option<Holder>, &[Holder]) = match *self {
            Holders::None => (None, &[]),
            Holders::One(table, fd) => (Some((table, fd)), &[]),
            Holders::Many(n) => (None, lists.list(n)),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_go_from_one_to_many_and_back_reusing_lists() {
        let (a, b, c) = ((TableId(1), 3), (TableId(2), 3), (TableId(2), 4));
        let mut lists = HolderLists::default();
        let mut h = Holders::default();
        let all = |h: &Holders, lists: &HolderLists| h.iter(lists).collect::<Vec<_>>();
        assert!(h.is_empty());
        h.push(&mut lists, a);
        assert_eq!(all(&h, &lists), [a]);
        h.push(&mut lists, b);
        h.push(&mut lists, c);
        assert_eq!(all(&h, &lists), [a, b, c]);
        assert!(h.remove(&mut lists, a));
        assert!(!h.remove(&mut lists, a), "already gone");
        assert!(h.remove(&mut lists, c));
        assert!(matches!(h, Holders::One(table, fd) if (table, fd) == b), "back to inline");
        assert_eq!(lists.free, [0], "the list is free for the next object");
        let mut other = Holders::default();
        other.push(&mut lists, a);
        other.push(&mut lists, c);
        assert!(matches!(other, Holders::Many(0)), "and reused");
        assert_eq!(all(&other, &lists), [a, c]);
        assert!(h.remove(&mut lists, b));
        assert!(h.is_empty());
        assert!(other.remove(&mut lists, a));
        lists.shrink_to_fit();
        assert!(lists.lists.is_empty() && lists.free.is_empty(), "all given back");
    }

    #[test]
    fn holders_are_16_bytes() {
        assert_eq!(std::mem::size_of::<Holders>(), 16);
    }
}
