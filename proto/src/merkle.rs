//! The RFC 9162 Merkle tree over a node's log (spec §15.1).
//!
//! The leaves are the log's leaves (signed entries), hashed `SHA-256(0x00 ‖ leaf)`; an interior
//! node is `SHA-256(0x01 ‖ left ‖ right)`, and a tree of `n` leaves splits at the largest power of
//! two below `n`. Inclusion and consistency proofs are exactly RFC 9162 §2.1.3 and §2.1.4, so any
//! Certificate Transparency or C2SP tlog library checks them.
//!
//! Two shapes, for two jobs: [`CompactTree`] keeps only the O(log n) perfect-subtree peaks, which
//! is all a streaming verifier needs to recompute every root; [`MerkleTree`] keeps every complete
//! subtree hash, so a node can answer inclusion and consistency proofs for any earlier size.

use sha2::{Digest, Sha256};

use crate::ids::Hash32;

/// The interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash32(h.finalize().into())
}

/// The root of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash32 {
    Hash32(Sha256::digest([]).into())
}

/// The largest power of two strictly below `n` (`n >= 2`): where RFC 9162 splits a tree.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The peaks of a growing tree: one hash per set bit of the size, largest subtree first. Memory is
/// O(log n) whatever the size, so an auditor can stream a log of any length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactTree {
    size: u64,
    peaks: Vec<Hash32>,
}

impl CompactTree {
    /// The empty tree.
    pub fn new() -> Self {
        CompactTree::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree of `size` leaves whose peaks are `peaks` (largest subtree first), if they are as
    /// many as the set bits of `size`: how a saved tree is read back.
    pub fn from_peaks(size: u64, peaks: Vec<Hash32>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(CompactTree { size, peaks })
    }

    /// The peaks, largest subtree first.
    pub fn peaks(&self) -> &[Hash32] {
        &self.peaks
    }

    /// Appends a leaf by its leaf hash.
    pub fn push(&mut self, leaf_hash: Hash32) {
        let mut hash = leaf_hash;
        let mut size = self.size;
        // Every trailing one bit of the old size is a peak that merges with the new one.
        while size & 1 == 1 {
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root hash of the tree as it stands.
    pub fn root(&self) -> Hash32 {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else { return empty_root() };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// Every complete subtree hash of a log: `levels[k][i]` is the root of leaves `[i·2^k, (i+1)·2^k)`.
/// About two hashes per leaf (64 bytes); any root, inclusion proof or consistency proof for any
/// size up to the current one costs O(log n) lookups.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash32>>,
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> Self {
        MerkleTree::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf by its leaf hash.
    pub fn push(&mut self, leaf_hash: Hash32) {
        let mut hash = leaf_hash;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let row = &self.levels[level];
            if row.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The leaf hash at `index`, if there is one.
    pub fn leaf(&self, index: u64) -> Option<Hash32> {
        self.levels.first()?.get(usize::try_from(index).ok()?).copied()
    }

    /// The root of the perfect subtree of `2^level` leaves that starts at leaf `index << level`,
    /// if the tree holds all of them.
    pub fn subtree(&self, level: u32, index: u64) -> Option<Hash32> {
        self.levels.get(level as usize)?.get(usize::try_from(index).ok()?).copied()
    }

    /// The root of the first `size` leaves, or `None` if the tree is smaller.
    pub fn root_at(&self, size: u64) -> Option<Hash32> {
        match size {
            0 => Some(empty_root()),
            s if s > self.len() => None,
            s => range(0, s, &mut |level, index| self.subtree(level, index).ok_or(())).ok(),
        }
    }

    /// RFC 9162 inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash32>> {
        if index >= size || size > self.len() {
            return None;
        }
        inclusion_proof(index, size, &mut |level, i| self.subtree(level, i).ok_or(())).ok()
    }

    /// RFC 9162 consistency proof from the first `old` leaves to the first `new` leaves. Empty when
    /// `old` is 0 or equals `new` (nothing to prove).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Option<Vec<Hash32>> {
        if old > new || new > self.len() {
            return None;
        }
        consistency_proof(old, new, &mut |level, i| self.subtree(level, i).ok_or(())).ok()
    }
}

/// RFC 9162 `MTH(D[start:end])`, `start < end`, from the roots of perfect subtrees
/// (`subtree(level, index)`: the root of leaves `[index·2^level, (index+1)·2^level)`). Whoever
/// holds those — a [`MerkleTree`] in memory, a store's hash tiles — can answer every root and
/// proof through the functions below, which are the one home of RFC 9162's recursion.
pub fn range<E>(
    start: u64,
    end: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash32, E>,
) -> Result<Hash32, E> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return subtree(level, start >> level);
    }
    let k = split(n);
    Ok(node_hash(&range(start, start + k, subtree)?, &range(start + k, end, subtree)?))
}

/// RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves (`index < size`), from
/// perfect-subtree roots as in [`range`].
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash32, E>,
) -> Result<Vec<Hash32>, E> {
    fn path<E>(
        m: u64,
        start: u64,
        end: u64,
        proof: &mut Vec<Hash32>,
        subtree: &mut impl FnMut(u32, u64) -> Result<Hash32, E>,
    ) -> Result<(), E> {
        let n = end - start;
        if n <= 1 {
            return Ok(());
        }
        let k = split(n);
        if m < k {
            path(m, start, start + k, proof, subtree)?;
            proof.push(range(start + k, end, subtree)?);
        } else {
            path(m - k, start + k, end, proof, subtree)?;
            proof.push(range(start, start + k, subtree)?);
        }
        Ok(())
    }
    let mut proof = Vec::new();
    if index < size {
        path(index, 0, size, &mut proof, subtree)?;
    }
    Ok(proof)
}

/// RFC 9162 consistency proof from the tree of `old` leaves to the tree of `new` leaves
/// (`old <= new`), from perfect-subtree roots as in [`range`]. Empty when `old` is 0 or equals
/// `new` (nothing to prove).
pub fn consistency_proof<E>(
    old: u64,
    new: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash32, E>,
) -> Result<Vec<Hash32>, E> {
    fn sub<E>(
        m: u64,
        start: u64,
        end: u64,
        whole: bool,
        proof: &mut Vec<Hash32>,
        subtree: &mut impl FnMut(u32, u64) -> Result<Hash32, E>,
    ) -> Result<(), E> {
        let n = end - start;
        if m == n {
            if !whole {
                proof.push(range(start, end, subtree)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            sub(m, start, start + k, whole, proof, subtree)?;
            proof.push(range(start + k, end, subtree)?);
        } else {
            sub(m - k, start + k, end, false, proof, subtree)?;
            proof.push(range(start, start + k, subtree)?);
        }
        Ok(())
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        sub(old, 0, new, true, &mut proof, subtree)?;
    }
    Ok(proof)
}

/// The root of a perfect run of hashes (`hashes.len()` a power of two): what a hash tile's
/// consecutive hashes combine to.
pub fn perfect_root(hashes: &[Hash32]) -> Option<Hash32> {
    match hashes.len() {
        0 => None,
        1 => Some(hashes[0]),
        n if n.is_power_of_two() => {
            let (left, right) = hashes.split_at(n / 2);
            Some(node_hash(&perfect_root(left)?, &perfect_root(right)?))
        }
        _ => None,
    }
}

/// Checks an RFC 9162 §2.1.3.2 inclusion proof.
pub fn verify_inclusion(leaf_hash: &Hash32, index: u64, size: u64, proof: &[Hash32], root: &Hash32) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// Checks an RFC 9162 §2.1.4.2 consistency proof that the tree of `old` leaves with root
/// `old_root` is a prefix of the tree of `new` leaves with root `new_root`. From size 0 anything
/// is consistent (with an empty proof); equal sizes need equal roots and an empty proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash32,
    new_root: &Hash32,
    proof: &[Hash32],
) -> bool {
    if old > new {
        return false;
    }
    if old == 0 {
        return proof.is_empty();
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash32> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else { return false };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *old_root && sr == *new_root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::leaf_hash;

    /// RFC 9162 `MTH` straight from the definition, as the reference.
    fn mth(leaves: &[Hash32]) -> Hash32 {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash32> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            crate::hex::encode(&empty_root().0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn roots_match_the_definition_at_every_size() {
        let all = leaves(70);
        let (mut full, mut compact) = (MerkleTree::new(), CompactTree::new());
        for (i, l) in all.iter().enumerate() {
            full.push(*l);
            compact.push(*l);
            let want = mth(&all[..=i]);
            assert_eq!(compact.root(), want, "compact root at size {}", i + 1);
            for s in 0..=i + 1 {
                assert_eq!(full.root_at(s as u64), Some(mth(&all[..s])), "root_at({s}) of {}", i + 1);
            }
        }
        assert_eq!(full.root_at(71), None);
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_and_no_other() {
        let all = leaves(40);
        let mut tree = MerkleTree::new();
        all.iter().for_each(|l| tree.push(*l));
        for size in 1..=40u64 {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                assert!(verify_inclusion(&all[index as usize], index, size, &proof, &root));
                assert!(!verify_inclusion(&all[(index as usize + 1) % 40], index, size, &proof, &root));
                if size > 1 {
                    let other = index ^ 1;
                    let other = if other < size { other } else { index - 1 };
                    assert!(!verify_inclusion(&all[index as usize], other, size, &proof, &root));
                }
            }
            for old in 0..=size {
                let old_root = tree.root_at(old).unwrap();
                let proof = tree.consistency_proof(old, size).unwrap();
                assert!(verify_consistency(old, size, &old_root, &root, &proof), "{old} -> {size}");
                if old > 0 && old < size {
                    let wrong = leaf_hash(b"not a root");
                    assert!(!verify_consistency(old, size, &wrong, &root, &proof));
                    assert!(!verify_consistency(old, size, &old_root, &wrong, &proof));
                    assert!(!verify_consistency(old, size, &old_root, &root, &proof[1..]));
                }
            }
        }
        assert_eq!(tree.inclusion_proof(40, 40), None);
        assert_eq!(tree.consistency_proof(3, 41), None);
    }

    #[test]
    fn rfc9162_split_points() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(1 << 40), 1 << 39);
    }
}
