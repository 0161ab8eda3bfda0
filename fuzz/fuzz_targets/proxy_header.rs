//! Feeds arbitrary bytes to the PROXY protocol v1/v2 reader as a connection's first bytes:
//! it must never panic; a header it accepts must lie within the input and the limits; and a
//! shorter prefix (what one short read returns) must never give a different answer than the
//! whole: "need more", or the same header, or an error that the whole gives too.
#![no_main]

use icap::server::parse_proxy_header;
use libfuzzer_sys::fuzz_target;

/// Longest header accepted: the v2 fixed part and its largest address block.
const MAX_HEADER: usize = 16 + 2048;

fuzz_target!(|data: &[u8]| {
    let [cut, input @ ..] = data else {
        return;
    };
    let whole = parse_proxy_header(input);
    if let Ok(Some((_, len))) = &whole {
        assert!(*len <= input.len() && *len <= MAX_HEADER, "header of {len} bytes");
    }
    let cut = usize::from(*cut) * input.len() / 255;
    match parse_proxy_header(&input[..cut]) {
        Ok(None) => {}
        Ok(Some(prefix)) => assert_eq!(whole, Ok(Some(prefix)), "prefix of {cut} bytes"),
        Err(_) => assert!(whole.is_err(), "prefix of {cut} bytes refused, the whole accepted"),
    }
});
