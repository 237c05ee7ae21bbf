//! The RFC 9162 tree (spec §15.1): proofs a `MerkleTree` produces verify, `CompactTree` agrees
//! on every root, and `verify_inclusion` / `verify_consistency` take any sizes and proofs (as
//! they come from peers' checkpoint offers) without panicking or accepting a wrong root.
//!
//! Input: `[n u16 LE][…]`; the tree has `n % 700` leaves, then the rest drives the checks.
#![no_main]

use arbitrary::Unstructured;
use hotline_proto::crypto::leaf_hash;
use hotline_proto::merkle::{verify_consistency, verify_inclusion, CompactTree, MerkleTree};
use hotline_proto::Hash32;
use libfuzzer_sys::fuzz_target;

fn run(u: &mut Unstructured) -> arbitrary::Result<()> {
    let n = u64::from(u.arbitrary::<u16>()?) % 700;
    let mut tree = MerkleTree::new();
    let mut compact = CompactTree::new();
    for i in 0..n {
        let h = leaf_hash(&i.to_be_bytes());
        tree.push(h);
        compact.push(h);
    }
    assert_eq!(tree.root_at(n), Some(compact.root()));
    assert_eq!(tree.root_at(n + 1), None);
    for _ in 0..8 {
        let old = u.int_in_range(0..=n)?;
        let new = u.int_in_range(old..=n)?;
        let (old_root, new_root) = (tree.root_at(old).unwrap(), tree.root_at(new).unwrap());
        let proof = tree.consistency_proof(old, new).expect("sizes within the tree");
        assert!(verify_consistency(old, new, &old_root, &new_root, &proof), "consistency {old}->{new}");
        if new > 0 {
            let index = u.int_in_range(0..=new - 1)?;
            let p = tree.inclusion_proof(index, new).expect("index within the tree");
            let leaf = tree.leaf(index).unwrap();
            assert!(verify_inclusion(&leaf, index, new, &p, &new_root), "inclusion {index} in {new}");
            if !p.is_empty() {
                let mut bad = p.clone();
                let i = u.choose_index(bad.len())?;
                bad[i].0[0] ^= 1;
                assert!(!verify_inclusion(&leaf, index, new, &bad, &new_root));
            }
        }
        if old > 0 && old < new && !proof.is_empty() {
            let mut bad = proof.clone();
            let i = u.choose_index(bad.len())?;
            bad[i].0[31] ^= 0x80;
            assert!(!verify_consistency(old, new, &old_root, &new_root, &bad), "a damaged proof verifies");
            assert!(
                !verify_consistency(old, new, &old_root, &tree.root_at(new - 1).unwrap(), &proof)
                    || new - 1 == old && proof.is_empty()
            );
        }
    }
    // Anything from a peer.
    let (a, b): (u64, u64) = (u.arbitrary()?, u.arbitrary()?);
    let k = u.int_in_range(0..=130usize)?;
    let proof: Vec<Hash32> = (0..k).map(|_| Ok(Hash32(u.arbitrary()?))).collect::<arbitrary::Result<_>>()?;
    let (r1, r2) = (Hash32(u.arbitrary()?), Hash32(u.arbitrary()?));
    let _ = verify_consistency(a, b, &r1, &r2, &proof);
    let _ = verify_inclusion(&r1, a, b, &proof, &r2);
    let _ = tree.consistency_proof(a, b);
    let _ = tree.inclusion_proof(a, b);
    let _ = tree.root_at(a);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
