//! Feeds arbitrary bytes to the server-role decoder, whole and split at a fuzzer-chosen point:
//! it must never panic, and both feeds must agree.
#![no_main]

use bytes::BytesMut;
use icap_proto::{Limits, RequestDecoder, RequestEvent};
use libfuzzer_sys::fuzz_target;

fn decode(pieces: &[&[u8]]) -> (Vec<RequestEvent>, bool) {
    let mut dec = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut events: Vec<RequestEvent> = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(RequestEvent::PreviewEnd)) => {
                    dec.continue_after_preview();
                    events.push(RequestEvent::PreviewEnd);
                }
                Ok(Some(RequestEvent::Data(d))) => match events.last_mut() {
                    Some(RequestEvent::Data(prev)) => {
                        let mut joined = BytesMut::from(&prev[..]);
                        joined.extend_from_slice(&d);
                        *prev = joined.freeze();
                    }
                    _ => events.push(RequestEvent::Data(d)),
                },
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => break,
                Err(_) => return (events, true),
            }
        }
    }
    (events, false)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = usize::from(data[0]) % data.len();
    let input = &data[1..];
    let split = split.min(input.len());
    let whole = decode(&[input]);
    let (a, b) = input.split_at(split);
    let parts = decode(&[a, b]);
    assert_eq!(whole, parts, "split at {split} changed the events");
});
