//! The (table, fd) pairs that refer to one object. Almost every object has a single
//! holder, so one is kept inline: this enum is 16 bytes, where a `Vec` is 24 plus a
//! heap chunk and a `SmallVec` with one inline is 24. Every tracked object pays it.
use super::TableId;

pub type Holder = (TableId, i32);

#[derive(Debug, Default)]
pub enum Holders {
    #[default]
    None,
    /// Its own fields, not a `Holder` tuple: the tag then fits in the tuple's padding.
    One(TableId, i32),
    /// Two or more (a pipe after fork, stdio shared by a whole session). Boxed: a bare
    /// `Vec` is 24 bytes and would make every object's list 32.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Holder>>),
}

impl Holders {
    pub fn is_empty(&self) -> bool {
        matches!(self, Holders::None)
    }

    pub fn push(&mut self, holder: Holder) {
        *self = match std::mem::take(self) {
            Holders::None => Holders::One(holder.0, holder.1),
            Holders::One(table, fd) => Holders::Many(Box::new(vec![(table, fd), holder])),
            Holders::Many(mut all) => {
                all.push(holder);
                Holders::Many(all)
            }
        };
    }

    /// Forget `holder`; false if it was not there.
    pub fn remove(&mut self, holder: Holder) -> bool {
        match self {
            Holders::None => false,
            Holders::One(table, fd) if (*table, *fd) == holder => {
                *self = Holders::None;
                true
            }
            Holders::One(..) => false,
            Holders::Many(all) => {
                let Some(i) = all.iter().position(|h| *h == holder) else { return false };
                all.swap_remove(i);
                if all.len() == 1 {
                    *self = Holders::One(all[0].0, all[0].1);
                }
                true
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Holder> + '_ {
        let (one, many): (Option<Holder>, &[Holder]) = match self {
            Holders::None => (None, &[]),
            Holders::One(table, fd) => (Some((*table, *fd)), &[]),
            Holders::Many(all) => (None, all),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(h: &Holders) -> Vec<Holder> {
        h.iter().collect()
    }

    #[test]
    fn holders_go_from_one_to_many_and_back() {
        let (a, b, c) = ((TableId(1), 3), (TableId(2), 3), (TableId(2), 4));
        let mut h = Holders::default();
        assert!(h.is_empty());
        h.push(a);
        assert_eq!(all(&h), [a]);
        h.push(b);
        h.push(c);
        assert_eq!(all(&h), [a, b, c]);
        assert!(h.remove(a));
        assert!(!h.remove(a), "already gone");
        assert!(h.remove(c));
        assert!(matches!(h, Holders::One(table, fd) if (table, fd) == b), "back to inline");
        assert!(h.remove(b));
        assert!(h.is_empty());
    }

    #[test]
    fn holders_are_16_bytes() {
        assert_eq!(std::mem::size_of::<Holders>(), 16);
    }
}
