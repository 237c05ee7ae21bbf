//! Any bytes as a frame from a peer: `hotline_proto::wire::open` against the vectors' roster (the seeds are
//! the vectors' frames, which open). Also `peek` and `decode_trusted`, which must agree with it.
#![no_main]

use hotline_proto::testing::{codec, decode_trusted};
use hotline_proto::wire::message_hash;
use hotline_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fx = hotline_fuzz::vectors();
    let opened = hotline_proto::wire::open(data, &fx.roster, &fx.network);
    let peeked = hotline_proto::wire::peek(data);
    let trusted = decode_trusted(data);
    assert_eq!(peeked.is_some(), trusted.is_ok(), "peek and decode_trusted disagree");
    if let Ok(opened) = opened {
        let trusted = trusted.expect("an opened frame decodes");
        assert_eq!(opened, trusted, "open and decode_trusted disagree");
        assert_eq!(Some(&opened.message), peeked.as_ref());
        // Strict decoding: the frame is the one encoding of its value.
        let frame: hotline_proto::wire::Frame =
            codec::decode("frame", data, usize::MAX).expect("frame decodes");
        assert_eq!(codec::encode(&frame), data);
        assert_eq!(opened.hash, message_hash(frame.kind, &frame.body));
        let body = match &opened.message {
            Message::Notice(n) => codec::encode(n),
            Message::Receipt(r) => codec::encode(r),
            Message::Ack(a) => codec::encode(a),
            Message::Checkpoint(c) => codec::encode(c),
            Message::Cosignature(c) => codec::encode(c),
            Message::Heartbeat(h) => codec::encode(h),
        };
        assert_eq!(body, frame.body, "the body is not the encoding of the opened value");
    }
});
