//! One fd table's entries by fd number, kept the way the kernel keeps its own fdtable
//! (fs/file.c): an array indexed by fd. fds are small and dense because every call
//! that creates one returns the lowest free number (open(2): "the lowest-numbered file
//! descriptor not currently open"), so an array costs one slot per fd where a hash map
//! costs a bucket, its key and its load-factor slack (64 bytes per fd, measured).
//! A number far above the rest (bash's `dup2(fd, 255)`, a test's fd 1030 in a process
//! of 5) goes to a small side map instead of stretching the array.
use rustc_hash::FxHashMap as HashMap;

use super::FdEntry;

/// The array grows to take an fd below `2 * len + DENSE_SLACK`; anything higher is sparse.
const DENSE_SLACK: usize = 64;

#[derive(Debug, Default)]
pub struct FdMap {
    dense: Vec<Option<FdEntry>>,
    sparse: HashMap<i32, FdEntry>,
    len: usize,
}

impl FdMap {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn slot(fd: i32) -> Option<usize> {
        usize::try_from(fd).ok()
    }

    pub fn get(&self, fd: i32) -> Option<&FdEntry> {
        match Self::slot(fd).and_then(|i| self.dense.get(i)) {
            Some(slot) => slot.as_ref(),
            None => self.sparse.get(&fd),
        }
    }

    pub fn get_mut(&mut self, fd: i32) -> Option<&mut FdEntry> {
        match Self::slot(fd).and_then(|i| self.dense.get_mut(i)) {
            Some(slot) => slot.as_mut(),
            None => self.sparse.get_mut(&fd),
        }
    }

    pub fn contains_key(&self, fd: i32) -> bool {
        self.get(fd).is_some()
    }

    /// Put `entry` on `fd`; returns what was there.
    pub fn insert(&mut self, fd: i32, entry: FdEntry) -> Option<FdEntry> {
        if let Some(i) = Self::slot(fd).filter(|&i| i >= self.dense.len() && i < 2 * self.len + DENSE_SLACK) {
            self.grow_to(i + 1);
        }
        let old = match Self::slot(fd).and_then(|i| self.dense.get_mut(i)) {
            Some(slot) => slot.replace(entry),
            None => self.sparse.insert(fd, entry),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, fd: i32) -> Option<FdEntry> {
        let old = match Self::slot(fd).and_then(|i| self.dense.get_mut(i)) {
            Some(slot) => slot.take(),
            None => self.sparse.remove(&fd),
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Stretch the array to `len` slots and move the side map's fds that now fit.
    fn grow_to(&mut self, len: usize) {
        self.dense.resize_with(len, || None);
        if self.sparse.is_empty() {
            return;
        }
        let fitting: Vec<i32> =
            self.sparse.keys().copied().filter(|&fd| Self::slot(fd).is_some_and(|i| i < len)).collect();
        for fd in fitting {
            if let (Some(entry), Some(i)) = (self.sparse.remove(&fd), Self::slot(fd)) {
                self.dense[i] = Some(entry);
            }
        }
    }

    /// Give back the slack of growing and the slots above the highest open fd (see
    /// `Model::shrink_to_fit`).
    pub fn shrink_to_fit(&mut self) {
        while self.dense.last().is_some_and(Option::is_none) {
            self.dense.pop();
        }
        crate::heap::shrink_vec(&mut self.dense);
        crate::heap::shrink_map(&mut self.sparse);
    }

    /// Every open fd with its entry: the array's in fd order, then the side map's.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        let dense = self.dense.iter().enumerate().filter_map(|(i, e)| Some((i as i32, e.as_ref()?)));
        dense.chain(self.sparse.iter().map(|(fd, e)| (*fd, e)))
    }

    pub fn keys(&self) -> impl Iterator<Item = i32> + '_ {
        self.iter().map(|(fd, _)| fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Access, ObjectId, Origin, Step};

    fn entry(object: u64) -> FdEntry {
        FdEntry {
            object: ObjectId(object),
            cloexec: false,
            access: Access::Read,
            origin: Origin::root(Step::PresentAtStart, 1, 0),
        }
    }

    fn fds(m: &FdMap) -> Vec<i32> {
        let mut v: Vec<i32> = m.keys().collect();
        v.sort();
        v
    }

    #[test]
    fn behaves_like_a_map_over_dense_and_stray_numbers() {
        let mut m = FdMap::default();
        for fd in 0..10 {
            assert!(m.insert(fd, entry(fd as u64)).is_none());
        }
        assert!(m.insert(255, entry(255)).is_none(), "bash's saved fd: far above the rest");
        assert!(m.insert(1_000_000, entry(7)).is_none());
        assert_eq!(m.insert(3, entry(33)).map(|e| e.object), Some(ObjectId(3)), "replacing returns the old entry");
        assert_eq!(m.len(), 12);
        assert_eq!(m.get(3).map(|e| e.object), Some(ObjectId(33)));
        assert_eq!(m.get(255).map(|e| e.object), Some(ObjectId(255)));
        assert!(m.get(10).is_none() && m.get(-1).is_none() && m.get(254).is_none());
        assert!(m.dense.len() < 100, "a stray number must not stretch the array: {}", m.dense.len());
        assert_eq!(m.remove(255).map(|e| e.object), Some(ObjectId(255)));
        assert!(m.remove(255).is_none());
        assert!(m.remove(10).is_none());
        assert_eq!(m.remove(0).map(|e| e.object), Some(ObjectId(0)));
        assert_eq!(fds(&m), [1, 2, 3, 4, 5, 6, 7, 8, 9, 1_000_000]);
        assert_eq!(m.len(), 10);
        m.get_mut(1_000_000).unwrap().cloexec = true;
        assert!(m.get(1_000_000).unwrap().cloexec);
        for fd in 3..10 {
            m.remove(fd);
        }
        m.shrink_to_fit();
        assert_eq!(m.dense.len(), 3, "the slots above the highest open fd are given back");
        assert_eq!(fds(&m), [1, 2, 1_000_000]);
    }

    #[test]
    fn growing_the_array_takes_in_the_side_maps_numbers() {
        let mut m = FdMap::default();
        m.insert(200, entry(200));
        assert!(m.dense.len() <= 200, "fd 200 alone is sparse");
        for fd in 0..150 {
            m.insert(fd, entry(fd as u64));
        }
        m.insert(201, entry(201));
        assert!(m.sparse.is_empty(), "fd 200 moved into the array once the array reached past it");
        assert_eq!(m.get(200).map(|e| e.object), Some(ObjectId(200)));
        assert_eq!(m.len(), 152);
        assert_eq!(fds(&m).len(), 152);
    }
}
