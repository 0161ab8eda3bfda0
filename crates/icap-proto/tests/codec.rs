//! RFC 3507 examples and real peers' captures as test vectors: parsed, re-encoded to the same
//! bytes, and decoded identically whatever the split of the input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use icap_proto::{
    encode_chunk, encode_last_chunk, Limits, Method, RequestDecoder, RequestEvent, ResponseDecoder,
    ResponseEvent, Section,
};

const REQUESTS: &[(&str, &[u8])] = &[
    ("reqmod1", include_bytes!("vectors/reqmod1-request.icap")),
    ("reqmod2", include_bytes!("vectors/reqmod2-request.icap")),
    ("reqmod3", include_bytes!("vectors/reqmod3-request.icap")),
    ("respmod4", include_bytes!("vectors/respmod4-request.icap")),
    ("options5", include_bytes!("vectors/options5-request.icap")),
    // c-icap-client 0.5.10: Content-Length twice, preview holding the whole body.
    (
        "c-icap-client-reqmod",
        b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: C-ICAP-Client-Library/0.5.10\r\nAllow: 204\r\nPreview: 63\r\nEncapsulated: req-hdr=0, req-body=146\r\n\r\nPOST http://x/upload HTTP/1.0\r\nLast-Modified: Wed Nov 25 02:15:19 2026\r\nContent-Length: 63\r\nContent-Length: 63\r\nUser-Agent: C-ICAP-Client/x.xx\r\n\r\n3f\r\nHello, this contains SSN 123-45-6789 and card 4111111111111111\n\r\n0; ieof\r\n\r\n",
    ),
    // Squid 5.7: OPTIONS without Encapsulated, Allow: 206, trailers.
    ("squid-options", b"OPTIONS icap://127.0.0.1:13441/echo ICAP/1.0\r\nHost: 127.0.0.1:13441\r\nAllow: 206, trailers\r\n\r\n"),
    // Squid 5.7: REQMOD for a GET, null-body with Preview: 0.
    (
        "squid-reqmod-get",
        b"REQMOD icap://127.0.0.1:13441/echo ICAP/1.0\r\nHost: 127.0.0.1:13441\r\nDate: Wed, 25 Nov 2026 02:18:40 GMT\r\nEncapsulated: req-hdr=0, null-body=110\r\nPreview: 0\r\nAllow: 204, trailers\r\nX-Client-IP: 127.0.0.1\r\n\r\nGET http://127.0.0.1:18080/index.txt HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nHost: 127.0.0.1:18080\r\n\r\n",
    ),
    // A preview that does not hold the whole body, then the rest after 100 Continue.
    (
        "preview-continue",
        b"RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\nPreview: 4\r\nAllow: 204\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\n4\r\nabcd\r\n0\r\n\r\n6\r\nefghij\r\n0\r\n\r\n",
    ),
];

const RESPONSES: &[(&str, &[u8])] = &[
    ("reqmod1", include_bytes!("vectors/reqmod1-response.icap")),
    ("reqmod2", include_bytes!("vectors/reqmod2-response.icap")),
    ("reqmod3", include_bytes!("vectors/reqmod3-response.icap")),
    ("respmod4", include_bytes!("vectors/respmod4-response.icap")),
    ("options5", include_bytes!("vectors/options5-response.icap")),
    ("c-icap-204", b"ICAP/1.0 204 Unmodified\r\nServer: C-ICAP/0.5.10\r\nConnection: keep-alive\r\nISTag: \"CI0001-XXXXXXXXX\"\r\n\r\n"),
    ("continue-then-200", b"ICAP/1.0 100 Continue\r\n\r\nICAP/1.0 200 OK\r\nISTag: \"x\"\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
];

/// Decodes every request in `input`, answering each preview with 100 Continue, and normalises
/// the events (adjacent `Data` merged) so that splits can be compared.
fn request_events(chunks: &[&[u8]]) -> Vec<RequestEvent> {
    let mut dec = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(ev) = dec.decode(&mut buf).expect("vector decodes") {
            if ev == RequestEvent::PreviewEnd {
                dec.continue_after_preview();
            }
            push_merged(&mut events, ev, |e| match e {
                RequestEvent::Data(d) => Some(d),
                _ => None,
            });
        }
    }
    assert!(buf.is_empty(), "all input consumed");
    events
}

fn response_events(chunks: &[&[u8]]) -> Vec<ResponseEvent> {
    let mut dec = ResponseDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(ev) = dec.decode(&mut buf).expect("vector decodes") {
            push_merged(&mut events, ev, |e| match e {
                ResponseEvent::Data(d) => Some(d),
                _ => None,
            });
        }
    }
    assert!(buf.is_empty(), "all input consumed");
    events
}

fn push_merged<E>(events: &mut Vec<E>, ev: E, data: impl Fn(&mut E) -> Option<&mut Bytes>) {
    let mut ev = ev;
    if let (Some(last), Some(new)) = (events.last_mut(), data(&mut ev)) {
        if let Some(prev) = data(last) {
            let mut joined = BytesMut::from(&prev[..]);
            joined.extend_from_slice(new);
            *prev = joined.freeze();
            return;
        }
    }
    events.push(ev);
}

#[test]
fn request_vectors_parse_and_reencode_to_the_same_bytes() {
    for (name, bytes) in REQUESTS {
        let events = request_events(&[bytes]);
        let again = reencode_requests_strict(&events);
        assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(bytes), "{name}");
    }
}

/// Re-encodes knowing which messages have bodies, from their heads.
fn reencode_requests_strict(events: &[RequestEvent]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut has_body = false;
    for ev in events {
        match ev {
            RequestEvent::Head(req) => {
                has_body = req.has_body();
                req.encode_head(&mut out);
            }
            RequestEvent::Data(d) => encode_chunk(d, &mut out),
            RequestEvent::PreviewEnd => encode_last_chunk(false, &mut out),
            RequestEvent::End { ieof, .. } => {
                if has_body {
                    encode_last_chunk(*ieof, &mut out);
                }
            }
        }
    }
    out.to_vec()
}

#[test]
fn response_vectors_parse_and_reencode_to_the_same_bytes() {
    for (name, bytes) in RESPONSES {
        let events = response_events(&[bytes]);
        let mut out = BytesMut::new();
        let mut has_body = false;
        for ev in &events {
            match ev {
                ResponseEvent::Head(res) => {
                    has_body = res.has_body();
                    res.encode_head(&mut out);
                }
                ResponseEvent::Data(d) => encode_chunk(d, &mut out),
                ResponseEvent::End { .. } => {
                    if has_body {
                        encode_last_chunk(false, &mut out);
                    }
                }
            }
        }
        // A 204 without Encapsulated re-encodes without it; everything else byte for byte.
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(bytes), "{name}");
    }
}

#[test]
fn request_vectors_are_split_invariant() {
    for (name, bytes) in REQUESTS {
        let whole = request_events(&[bytes]);
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(request_events(&[a, b]), whole, "{name} split at {at}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(request_events(&singles), whole, "{name} one byte at a time");
    }
}

#[test]
fn response_vectors_are_split_invariant() {
    for (name, bytes) in RESPONSES {
        let whole = response_events(&[bytes]);
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(response_events(&[a, b]), whole, "{name} split at {at}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(response_events(&singles), whole, "{name} one byte at a time");
    }
}

#[test]
fn pipelined_requests_decode_in_order() {
    let all: Vec<u8> = REQUESTS.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    let heads: Vec<_> = request_events(&[&all])
        .into_iter()
        .filter_map(|e| match e {
            RequestEvent::Head(r) => Some(r.head.method),
            _ => None,
        })
        .collect();
    assert_eq!(heads.len(), REQUESTS.len());
    assert_eq!(heads[3], Method::Respmod);
}

#[test]
fn rfc_example_fields_are_read() {
    let events = request_events(&[REQUESTS[3].1]);
    let RequestEvent::Head(req) = &events[0] else { panic!("head first") };
    assert_eq!(req.head.service(), "satisf");
    let res = req.http_response.as_ref().expect("res-hdr");
    assert_eq!(res.status(), 200);
    assert_eq!(res.content_length().unwrap(), Some(51));
    assert_eq!(req.http_request.as_ref().expect("req-hdr").target(), "/origin-resource");
    assert_eq!(req.encapsulated.as_ref().map(|e| e.body()), Some(Section::ResBody));
    assert_eq!(
        events[1],
        RequestEvent::Data(Bytes::from_static(b"This is data that was returned by an origin server."))
    );

    let events = response_events(&[RESPONSES[4].1]);
    let ResponseEvent::Head(res) = &events[0] else { panic!("head first") };
    let opts = icap_proto::ServiceOptions::from_headers(&res.head.headers).unwrap();
    assert_eq!(opts.methods, [Method::Respmod]);
    assert_eq!(opts.max_connections, Some(1000));
    assert_eq!(opts.options_ttl, Some(7200));
    assert_eq!(opts.preview, Some(2048));
    assert!(opts.allow.no_content);
    assert_eq!(opts.transfer_complete, ["asp", "bat", "exe", "com"]);
}

#[test]
fn preview_with_ieof_ends_the_message() {
    let events = request_events(&[REQUESTS[5].1]);
    let RequestEvent::Head(req) = &events[0] else { panic!("head first") };
    assert_eq!(req.preview, Some(63));
    assert!(req.head.allow().no_content);
    assert_eq!(req.http_request.as_ref().unwrap().content_length().unwrap(), Some(63));
    assert!(matches!(events.last(), Some(RequestEvent::End { ieof: true, .. })));
}

#[test]
fn a_final_answer_to_a_preview_skips_the_rest() {
    let (first, _) = REQUESTS[8].1.split_at(REQUESTS[8].1.len() - 16);
    let mut dec = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(first);
    let mut saw_end = false;
    while let Some(ev) = dec.decode(&mut buf).unwrap() {
        saw_end |= ev == RequestEvent::PreviewEnd;
    }
    assert!(saw_end && dec.is_awaiting_continue());
    dec.skip_rest_of_body();
    buf.clear();
    buf.extend_from_slice(REQUESTS[6].1);
    assert!(matches!(dec.decode(&mut buf).unwrap(), Some(RequestEvent::Head(_))));
}

fn first_error(input: &[u8]) -> icap_proto::ProtoError {
    let mut dec = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(input);
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(input)),
            Err(e) => return e,
        }
    }
}

#[test]
fn malformed_requests_get_their_status() {
    let cases: &[(&[u8], u16)] = &[
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"FOO icap://h/echo ICAP/1.0\r\nHost: h\r\n\r\n", 501),
        (b"OPTIONS icap://h/echo ICAP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nHost: h\r\n\r\n", 400),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nEncapsulated: res-hdr=0, null-body=3\r\n\r\n", 400),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nEncapsulated: req-hdr=0, null-body=5\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nEncapsulated: req-body=0\r\n\r\nxyz\r\n", 400),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nPreview: 2\r\nEncapsulated: req-body=0\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nPreview: x\r\nEncapsulated: req-body=0\r\n\r\n", 400),
        (b"REQMOD icap://h/echo ICAP/1.0\r\nBad Header\r\n\r\n", 400),
    ];
    for (input, status) in cases {
        assert_eq!(first_error(input).status(), *status, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn oversized_heads_are_limit_errors_without_waiting_for_the_end() {
    let mut big = b"OPTIONS icap://h/echo ICAP/1.0\r\n".to_vec();
    while big.len() <= Limits::DEFAULT_MAX_ICAP_HEAD {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let err = first_error(&big);
    assert!(err.is_limit());
    assert_eq!(err.status(), 400);
}

/// The fuzzer's find: a preview chunk declaring more than `Preview` was refused only when its
/// data went past the size, so a split inside the chunk let two bytes through first. The
/// size line alone decides now, whatever the split.
#[test]
fn a_preview_chunk_longer_than_preview_is_refused_at_its_size_line() {
    let input: &[u8] = b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nPreview: 3\r\nEncapsulated: req-hdr=0, req-body=20\r\n\r\nPOST x/ HTTP/1.1\r\n\r\nabc\r\nefg\r\n0\r\n\r\n";
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        let mut dec = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut data = 0;
        let mut error = None;
        'feed: for piece in [a, b] {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(RequestEvent::Data(d))) => data += d.len(),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break 'feed;
                    }
                }
            }
        }
        assert_eq!(data, 0, "split at {split} let body bytes through");
        let error = error.unwrap_or_else(|| panic!("split at {split}: no error"));
        assert!(error.to_string().contains("Preview"), "{error}");
    }
}
