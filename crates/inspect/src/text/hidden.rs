//! HTML elements a browser does not show (`hidden`, `style="display:none"`,
//! `visibility:hidden`): their text is read apart from what is shown, in the markup's aside,
//! so a decoy hidden inside a value (`4111 1111 <span hidden>9999</span>1111 1111`) neither
//! splits it nor joins it, and whatever the element holds is still read.

/// Bytes of an attribute list, and of a `style` value, looked at.
pub(super) const ATTRS_MAX: usize = 256;

/// The hidden element being read: its local name (lower case) and how many elements of
/// that name are open inside it, itself included.
#[derive(Debug)]
pub(super) struct Hidden {
    name: Vec<u8>,
    depth: u32,
}

impl Hidden {
    /// The element an opening tag starts, if it hides its content: a `hidden` attribute
    /// (`attrs`: the attribute list outside quoted values) or a `style` that hides
    /// (`style`: its value). Void elements hold no content and start nothing.
    pub fn starts(local: &[u8], attrs: &[u8], style: &[u8]) -> Option<Self> {
        // Most tags have neither: the cheap tests first.
        if !(has_hidden_attribute(attrs) || style_hides(style)) || is_void(local) {
            return None;
        }
        Some(Self { name: local.to_ascii_lowercase(), depth: 1 })
    }

    /// A tag inside the hidden element: `true` once the element has ended.
    pub fn tag(&mut self, local: &[u8], closing: bool, self_closing: bool) -> bool {
        if !local.eq_ignore_ascii_case(&self.name) || self_closing {
            return false;
        }
        if closing {
            self.depth -= 1;
        } else {
            self.depth += 1;
        }
        self.depth == 0
    }
}

/// A `hidden` attribute among the attribute names (not `aria-hidden`, which hides nothing
/// from the eye).
fn has_hidden_attribute(attrs: &[u8]) -> bool {
    if attrs.len() < 6 || memchr::memchr2(b'h', b'H', attrs).is_none() {
        return false;
    }
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.');
    attrs.split(|&b| !name_byte(b)).any(|word| word.eq_ignore_ascii_case(b"hidden"))
}

/// `display: none` or `visibility: hidden` in a `style` value, in any case and spacing.
/// Only the bytes around each `:` are looked at, and nothing is copied.
fn style_hides(style: &[u8]) -> bool {
    let starts = |v: &[u8], w: &[u8]| v.len() >= w.len() && v[..w.len()].eq_ignore_ascii_case(w);
    let ends = |p: &[u8], w: &[u8]| p.len() >= w.len() && p[p.len() - w.len()..].eq_ignore_ascii_case(w);
    let mut at = 0;
    while let Some(k) = memchr::memchr(b':', &style[at..]) {
        let colon = at + k;
        let (property, value) = (style[..colon].trim_ascii_end(), style[colon + 1..].trim_ascii_start());
        if (starts(value, b"none") && ends(property, b"display"))
            || (starts(value, b"hidden") && ends(property, b"visibility"))
        {
            return true;
        }
        at = colon + 1;
    }
    false
}

/// HTML's void elements: no content, no closing tag.
fn is_void(local: &[u8]) -> bool {
    const VOID: [&[u8]; 14] = [
        b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"source",
        b"track", b"wbr", b"param",
    ];
    VOID.iter().any(|v| v.eq_ignore_ascii_case(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_hides() {
        assert!(Hidden::starts(b"span", b" hidden", b"").is_some());
        assert!(Hidden::starts(b"div", b" class=x HIDDEN ", b"").is_some());
        assert!(Hidden::starts(b"span", b" style=", b"color:red; Display : None !important").is_some());
        assert!(Hidden::starts(b"p", b"", b"visibility:hidden").is_some());
        assert!(Hidden::starts(b"span", b" aria-hidden=", b"").is_none());
        assert!(Hidden::starts(b"span", b" data-hidden-x", b"display:block").is_none());
        assert!(Hidden::starts(b"input", b" hidden", b"").is_none());
        let mut h = Hidden::starts(b"span", b" hidden", b"").unwrap();
        assert!(!h.tag(b"span", false, false));
        assert!(!h.tag(b"b", true, false));
        assert!(!h.tag(b"span", true, false));
        assert!(h.tag(b"SPAN", true, false));
    }
}
