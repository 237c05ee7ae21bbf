//! Any text as a checkpoint note (`parse_note`) and as a checkpoint body (`Checkpoint::parse`);
//! what parses is verified against the fixture keys (it must not verify, and must not panic).
#![no_main]

use hotline_proto::note::{self, Checkpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fx = hotline_fuzz::vectors();
    if let Ok(c) = Checkpoint::parse(text) {
        assert_eq!(c.body(), text, "a parsed checkpoint body is not canonical");
        assert_eq!(Checkpoint::parse(&c.body()), Ok(c.clone()));
        let _ = c.cosigned_message(u64::MAX);
    }
    if let Ok((c, sigs)) = note::parse_note(text) {
        assert!(!sigs.is_empty());
        assert_eq!(Checkpoint::parse(&c.body()), Ok(c.clone()));
        for s in &sigs {
            let _ = s.line();
            for id in &fx.ids {
                let _ = note::key_id(&s.name, note::ALG_ED25519, id);
                if let Some(sig) = s.signature() {
                    let _ = c.verify(id, &sig);
                }
                if let Some((t, sig)) = s.timestamped() {
                    let _ = c.verify_cosignature(id, t, &sig);
                }
            }
        }
        // Re-rendering parses back to the same checkpoint and signature lines.
        let again = note::note(&c, &sigs);
        let (c2, sigs2) = note::parse_note(&again).expect("a rendered note parses");
        assert_eq!((c2, sigs2), (c, sigs));
    }
});
