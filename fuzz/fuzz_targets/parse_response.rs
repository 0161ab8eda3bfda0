//! Feeds arbitrary bytes to the client-role decoder: it must never panic, and a split input
//! must give the same events as the whole.
#![no_main]

use bytes::BytesMut;
use icap_proto::{Limits, ResponseDecoder, ResponseEvent};
use libfuzzer_sys::fuzz_target;

fn decode(pieces: &[&[u8]]) -> (Vec<ResponseEvent>, bool) {
    let mut dec = ResponseDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut events: Vec<ResponseEvent> = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(ResponseEvent::Data(d))) => match events.last_mut() {
                    Some(ResponseEvent::Data(prev)) => {
                        let mut joined = BytesMut::from(&prev[..]);
                        joined.extend_from_slice(&d);
                        *prev = joined.freeze();
                    }
                    _ => events.push(ResponseEvent::Data(d)),
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
    assert_eq!(whole, decode(&[a, b]), "split at {split} changed the events");
});
