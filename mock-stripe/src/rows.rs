//! A table's objects in creation order, kept in chunks that never move.
//!
//! A `Vec` that grows doubles and copies everything it holds. Under the account's lock
//! that copy is a stall for every request to the account, and it grows with the data: at a
//! quarter of a million Checkout Sessions it is about 100 MB, and the benchmark saw single
//! requests wait 58–92 ms for it (glibc hides part of it for blocks it maps, by moving the
//! pages; other allocators copy). Here each chunk is allocated once at its full size, so a
//! push costs the same at a million objects as at ten, and positions stay what the index
//! and the render cache keep.
//!
//! Hand-written: the crates that keep stable chunks are built for concurrent appends or
//! sparse slots and bring more than the five operations the store needs.

use std::ops::{Index, IndexMut};

/// About this many bytes per chunk (a power-of-two count of objects, at least one).
const CHUNK_BYTES: usize = 64 * 1024;

/// Objects in creation order; see the module comment.
pub(crate) struct Rows<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Rows<T> {
    /// Objects per chunk: a power of two, so a position splits with a shift and a mask.
    const PER_CHUNK: usize = {
        let size = if size_of::<T>() == 0 {
            1
        } else {
            size_of::<T>()
        };
        let n = CHUNK_BYTES / size;
        if n <= 1 {
            1
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        }
    };
    const SHIFT: u32 = Self::PER_CHUNK.trailing_zeros();
    const MASK: usize = Self::PER_CHUNK - 1;

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::PER_CHUNK => chunk.push(item),
            last => {
                // The first chunk grows as a Vec does (small tables stay small); later
                // ones start at their full size and never reallocate.
                let mut chunk = match last {
                    None => Vec::new(),
                    Some(_) => Vec::with_capacity(Self::PER_CHUNK),
                };
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> Self::SHIFT)?.get(i & Self::MASK)
    }

    /// Oldest first; `.rev()` for newest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.into_iter()
    }

    /// Takes out the object at `i`; the ones after it move down a place. O(n): tables
    /// remove rarely (webhook endpoints), and the caller indexes everything again anyway.
    pub fn remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let chunks = std::mem::take(&mut self.chunks);
        self.len = 0;
        let mut removed = None;
        for (pos, item) in chunks.into_iter().flatten().enumerate() {
            if pos == i {
                removed = Some(item);
            } else {
                self.push(item);
            }
        }
        removed
    }
}

impl<'a, T> IntoIterator for &'a Rows<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<usize> for Rows<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> Self::SHIFT][i & Self::MASK]
    }
}

impl<T> IndexMut<usize> for Rows<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> Self::SHIFT][i & Self::MASK]
    }
}

/// Objects by position, oldest first: what lists and searches page through (a table's
/// [`Rows`], or a slice or vector).
pub(crate) trait InOrder<T> {
    fn count(&self) -> usize;
    fn at(&self, i: usize) -> &T;
}

impl<T> InOrder<T> for Rows<T> {
    fn count(&self) -> usize {
        self.len
    }

    fn at(&self, i: usize) -> &T {
        &self[i]
    }
}

impl<T> InOrder<T> for [T] {
    fn count(&self) -> usize {
        self.len()
    }

    fn at(&self, i: usize) -> &T {
        &self[i]
    }
}

impl<T> InOrder<T> for Vec<T> {
    fn count(&self) -> usize {
        self.len()
    }

    fn at(&self, i: usize) -> &T {
        &self[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 KiB objects: 64 to a chunk, so a few hundred span many chunks.
    #[derive(Debug, PartialEq)]
    struct Big(u32, [u8; 1020]);

    fn big(n: u32) -> Big {
        Big(n, [0; 1020])
    }

    #[test]
    fn positions_reads_and_iteration_agree_with_a_vec_across_chunks() {
        assert_eq!(Rows::<Big>::PER_CHUNK, 64);
        let mut rows = Rows::default();
        let mut plain = Vec::new();
        for n in 0..300 {
            rows.push(big(n));
            plain.push(n);
        }
        assert_eq!(rows.len(), 300);
        assert_eq!(rows.chunks.len(), 5);
        for (i, n) in plain.iter().enumerate() {
            assert_eq!(rows[i].0, *n);
            assert_eq!(rows.get(i).map(|b| b.0), Some(*n));
        }
        assert!(rows.get(300).is_none());
        let all: Vec<u32> = rows.iter().map(|b| b.0).collect();
        assert_eq!(all, plain);
        let newest: Vec<u32> = rows.iter().rev().take(3).map(|b| b.0).collect();
        assert_eq!(newest, [299, 298, 297]);
        rows[70].0 = 7000;
        assert_eq!((rows.at(70).0, rows.at(71).0), (7000, 71));
    }

    #[test]
    fn chunks_after_the_first_never_reallocate() {
        let mut rows = Rows::default();
        for n in 0..200 {
            rows.push(big(n));
        }
        let second = rows.chunks[1].as_ptr();
        for n in 200..1000 {
            rows.push(big(n));
        }
        assert_eq!(rows.chunks[1].as_ptr(), second);
        assert!(rows.chunks[1..].iter().all(|c| c.capacity() == 64));
    }

    #[test]
    fn removing_shifts_the_later_objects_down_one_place() {
        let mut rows = Rows::default();
        for n in 0..130 {
            rows.push(big(n));
        }
        assert_eq!(rows.remove(64).map(|b| b.0), Some(64));
        assert!(rows.remove(129).is_none());
        assert_eq!(rows.len(), 129);
        let all: Vec<u32> = rows.iter().map(|b| b.0).collect();
        let expected: Vec<u32> = (0..130).filter(|&n| n != 64).collect();
        assert_eq!(all, expected);
        assert_eq!(rows[64].0, 65);
    }

    #[test]
    fn small_and_zero_sized_objects_get_a_power_of_two_chunk() {
        assert_eq!(Rows::<u64>::PER_CHUNK, 8192);
        assert_eq!(Rows::<()>::PER_CHUNK, 65536);
        assert_eq!(Rows::<[u8; 100_000]>::PER_CHUNK, 1);
        assert_eq!(Rows::<[u8; 3000]>::PER_CHUNK, 16);
    }
}
