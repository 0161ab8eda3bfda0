//! HTML and XML to text: tags removed (block tags become line breaks), attribute values
//! kept, comments read apart (in the aside, below). Character references are left to the normaliser, which decodes them
//! once, after the tags are gone (so `&lt;b&gt;` is text, not a tag).
//!
//! Every byte inside a tag that is not text goes to a second output, the aside: tag names,
//! attribute names, unquoted values, the values of inline tags (formatting in office runs,
//! `class` and `style` in HTML) and processing instructions. Emitted among the text they
//! would cut a value split across runs apart; dropped, they would hide whatever is put in
//! them (`<span x="4111 1111 1111 1111">`, `<input value=4111-1111-1111-1111>`).

use super::hidden::{Hidden, ATTRS_MAX};

/// Local names of tags that do not separate words: runs and formatting in office XML,
/// inline elements in HTML. Every other tag becomes a line break. [`is_inline`] holds the
/// same names as a match; this sorted list is what the tests check it against.
#[cfg(test)]
const INLINE_TAGS: &[&[u8]] = &[
    b"a",
    b"abbr",
    b"b",
    b"bcs",
    b"big",
    b"bookmarkend",
    b"bookmarkstart",
    b"code",
    b"color",
    b"del",
    b"em",
    b"font",
    b"highlight",
    b"i",
    b"ics",
    b"ins",
    b"kern",
    b"lang",
    b"lastrenderedpagebreak",
    b"mark",
    b"noproof",
    b"position",
    b"prooferr",
    b"r",
    b"rfonts",
    b"rpr",
    b"rstyle",
    b"small",
    b"smarttag",
    b"softhyphen",
    b"spacing",
    b"span",
    b"strong",
    b"sub",
    b"sup",
    b"sz",
    b"szcs",
    b"t",
    b"u",
    b"vertalign",
    b"w",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Text,
    /// After `<`: collecting the name.
    Name,
    /// Inside a tag after its name.
    Attrs,
    /// Inside a quoted attribute value (its text is emitted).
    Quote(u8),
    /// Inside `<!-- -->` (to the aside: comments can hold data too).
    Comment,
    /// Inside `<![CDATA[ ]]>`.
    Cdata,
}

/// HTML/XML to text: tags removed (block tags become line breaks), attribute values and
/// comments kept.
#[derive(Debug)]
pub(crate) struct Markup {
    state: Tag,
    name: Vec<u8>,
    /// Whether the open tag is inline: its attribute values are formatting, not text,
    /// except those of [`DATA_ATTRIBUTES`].
    inline: bool,
    /// Whether the quoted value being read is text.
    keep: bool,
    /// Whether the open tag is an inline HTML tag, whose data attributes are text.
    track_attrs: bool,
    /// Whether the open tag has no namespace prefix (HTML): its attributes are looked at
    /// for what hides an element.
    html: bool,
    /// The last bytes of the attribute list before a quote (the attribute's name).
    attr_tail: Vec<u8>,
    /// Closing bytes (`-` in a comment, `]` in CDATA) held back, at most two.
    held: u8,
    /// Whether the comment just opened holds no text yet: HTML ends `<!-->` and `<!--->`
    /// there (an empty comment), and the text after them is shown.
    fresh: bool,
    /// The open tag's attribute list outside quoted values, and its `style` value (both
    /// cut at [`ATTRS_MAX`]), and whether the quoted value being read is the style.
    attrs: Vec<u8>,
    style: Vec<u8>,
    in_style: bool,
    /// The element being read that a browser does not show (see `hidden`): its text goes
    /// to [`Markup::hidden_text`], each element on lines of its own, apart from both the
    /// text shown and the tags (which would cut a value in it apart).
    hidden: Option<Hidden>,
    hid: Vec<u8>,
}

/// Attributes of inline tags that hold data rather than formatting: links (a `data:` URI
/// can carry a whole file), titles, alternative texts, form values.
const DATA_ATTRIBUTES: &[&[u8]] = &[
    b"href",
    b"src",
    b"srcset",
    b"title",
    b"alt",
    b"value",
    b"content",
    b"action",
    b"formaction",
    b"cite",
    b"poster",
    b"data",
    b"label",
    b"placeholder",
    b"longdesc",
];

/// Bytes of an attribute list kept to name the attribute a quoted value belongs to.
const ATTR_TAIL: usize = 32;

/// The attribute a value after the attribute list `tail` belongs to: the name before its
/// `=` (empty when there is none).
fn attribute_name(tail: &[u8]) -> &[u8] {
    let t = tail.trim_ascii_end();
    let Some(t) = t.strip_suffix(b"=") else {
        return b"";
    };
    let t = t.trim_ascii_end();
    let start = t
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':')))
        .map_or(0, |k| k + 1);
    &t[start..]
}

/// Whether the attribute list `tail` ends with `style=` (a quoted value follows).
fn is_style(tail: &[u8]) -> bool {
    let Some(t) = tail.trim_ascii_end().strip_suffix(b"=") else {
        return false;
    };
    let t = t.trim_ascii_end();
    t.len() >= 5
        && t[t.len() - 5..].eq_ignore_ascii_case(b"style")
        && (t.len() == 5
            || !t[t.len() - 6].is_ascii_alphanumeric() && !matches!(t[t.len() - 6], b'-' | b'_' | b':'))
}

/// Appends `data` to `buf` up to [`ATTRS_MAX`] bytes in all.
fn bounded(buf: &mut Vec<u8>, data: &[u8]) {
    let room = ATTRS_MAX.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..room.min(data.len())]);
}

/// Whether the attribute list `tail` ends with `name=` for a data attribute.
fn data_attribute(tail: &[u8]) -> bool {
    let name = attribute_name(tail);
    name.len() > 5 && name[..5].eq_ignore_ascii_case(b"data-")
        || DATA_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name))
}

impl Markup {
    pub fn new() -> Self {
        Self {
            state: Tag::Text,
            name: Vec::new(),
            inline: false,
            keep: false,
            track_attrs: false,
            html: false,
            attr_tail: Vec::with_capacity(ATTR_TAIL),
            held: 0,
            fresh: false,
            attrs: Vec::new(),
            style: Vec::new(),
            in_style: false,
            hidden: None,
            hid: Vec::new(),
        }
    }

    /// Appends the text of `data` to `out` and the rest of its tags to `aside` (each tag
    /// ends with a line break there).
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>, aside: &mut Vec<u8>) {
        // Text, attribute lists and quoted values are skimmed with memchr; only the bytes
        // that change state go through the state machine.
        let mut hid = std::mem::take(&mut self.hid);
        let mut i = 0;
        while i < data.len() {
            let rest = &data[i..];
            let out: &mut Vec<u8> = if self.hidden.is_some() { &mut hid } else { &mut *out };
            let hit = match self.state {
                Tag::Text => {
                    let k = memchr::memchr(b'<', rest);
                    out.extend_from_slice(&rest[..k.unwrap_or(rest.len())]);
                    k
                }
                Tag::Attrs => {
                    let k = memchr::memchr3(b'>', b'"', b'\'', rest);
                    let seg = &rest[..k.unwrap_or(rest.len())];
                    aside.extend_from_slice(seg);
                    if self.html {
                        // The attribute names: which one a quoted value belongs to, `hidden`.
                        self.attr_tail.extend_from_slice(&seg[seg.len().saturating_sub(ATTR_TAIL)..]);
                        let excess = self.attr_tail.len().saturating_sub(ATTR_TAIL);
                        self.attr_tail.drain(..excess);
                        bounded(&mut self.attrs, seg);
                    }
                    k
                }
                Tag::Quote(q) => {
                    let k = memchr::memchr(q, rest);
                    let seg = &rest[..k.unwrap_or(rest.len())];
                    if self.in_style {
                        bounded(&mut self.style, seg);
                    }
                    if self.keep { &mut *out } else { &mut *aside }.extend_from_slice(seg);
                    k
                }
                _ => Some(0),
            };
            let more = match hit {
                Some(k) => {
                    let was_hidden = self.hidden.is_some();
                    self.byte(rest[k], out, aside);
                    if self.hidden.is_some() != was_hidden {
                        // A hidden element's text on lines of its own.
                        hid.push(b'\n');
                    }
                    i += k + 1;
                    true
                }
                None => false,
            };
            if !more {
                break;
            }
        }
        self.hid = hid;
    }

    /// The text of hidden elements read so far (see `hidden`), for the caller to read and
    /// clear: a third stream besides the text shown and the aside.
    pub fn hidden_text(&mut self) -> &mut Vec<u8> {
        &mut self.hid
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>, aside: &mut Vec<u8>) {
        match self.state {
            Tag::Text => match b {
                b'<' => {
                    self.state = Tag::Name;
                    self.name.clear();
                    self.attrs.clear();
                    self.style.clear();
                }
                _ => out.push(b),
            },
            // A tag starts with a letter, `/`, `!` or `?`; anything else after `<` is text,
            // as browsers show it (`price <4111 1111 1111 1111>`).
            Tag::Name
                if self.name.is_empty() && !(b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?')) =>
            {
                self.state = Tag::Text;
                out.push(b'<');
                self.byte(b, out, aside);
            }
            Tag::Name => {
                if self.name.as_slice() == b"!--" {
                    // A comment goes to the aside, on a line of its own there: the text
                    // around it joins as a browser shows it (`4111 1111<!-- -->1111 1111`).
                    self.state = Tag::Comment;
                    self.held = 0;
                    self.fresh = true;
                    aside.push(b'\n');
                    self.byte(b, out, aside);
                    return;
                }
                if self.name.as_slice() == b"![CDATA[" {
                    self.state = Tag::Cdata;
                    self.held = 0;
                    self.byte(b, out, aside);
                    return;
                }
                match b {
                    b'>' => {
                        self.inline = is_inline(&self.name);
                        self.end_tag(out, aside);
                    }
                    b' ' | b'\t' | b'\r' | b'\n' | b'/'
                        if !self.name.is_empty() && !self.name.starts_with(b"!") =>
                    {
                        self.state = Tag::Attrs;
                        self.inline = is_inline(&self.name);
                        // Only HTML's inline tags (no namespace prefix) carry data attributes.
                        self.html = !self.name.contains(&b':');
                        self.track_attrs = self.inline && self.html;
                        self.attr_tail.clear();
                        bounded(&mut self.attrs, &[b]);
                    }
                    _ => {
                        if self.name.len() < 64 {
                            self.name.push(b);
                        }
                        aside.push(b);
                    }
                }
                if self.state == Tag::Attrs {
                    aside.push(b' ');
                }
            }
            Tag::Attrs => match b {
                b'>' => self.end_tag(out, aside),
                b'"' | b'\'' => {
                    self.state = Tag::Quote(b);
                    self.in_style = is_style(&self.attr_tail);
                    self.keep = !self.inline || (self.track_attrs && data_attribute(&self.attr_tail));
                    self.attr_tail.clear();
                    if self.keep {
                        out.push(b'\n');
                    } else {
                        aside.push(b' ');
                    }
                }
                _ => {}
            },
            Tag::Quote(q) => {
                if b == q {
                    self.state = Tag::Attrs;
                    if self.keep {
                        out.push(b'\n');
                    } else {
                        aside.push(b' ');
                    }
                } else {
                    if self.in_style {
                        bounded(&mut self.style, &[b]);
                    }
                    if self.keep {
                        out.push(b);
                    } else {
                        // Formatting attributes of runs: not text, but not left unread.
                        aside.push(b);
                    }
                }
            }
            Tag::Comment | Tag::Cdata => {
                // The `--` (or `]]`) that may end the section is held back until the next byte
                // says whether it does: taking it back out of `out` later would miss the bytes
                // an earlier piece already emitted.
                let (close, end, to) = if self.state == Tag::Comment {
                    (b'-', &b"\n"[..], aside)
                } else {
                    (b']', &b""[..], out)
                };
                let empty_comment = self.state == Tag::Comment && self.fresh;
                if b != close {
                    self.fresh = false;
                }
                if b == b'>' && (self.held == 2 || empty_comment) {
                    to.extend_from_slice(end);
                    self.held = 0;
                    self.state = Tag::Text;
                } else if b == close && self.held < 2 {
                    self.held += 1;
                } else if b == close {
                    to.push(close);
                } else {
                    to.extend(std::iter::repeat_n(close, usize::from(self.held)));
                    self.held = 0;
                    to.push(b);
                }
            }
        }
    }

    fn end_tag(&mut self, out: &mut Vec<u8>, aside: &mut Vec<u8>) {
        self.state = Tag::Text;
        aside.push(b'\n');
        let local = local_name(&self.name);
        let closing = self.name.first() == Some(&b'/');
        let self_closing =
            self.name.last() == Some(&b'/') || self.attrs.trim_ascii_end().last() == Some(&b'/');
        if let Some(h) = &mut self.hidden {
            if h.tag(local, closing, self_closing) {
                self.hidden = None;
            }
        } else if !closing && !self_closing {
            self.hidden = Hidden::starts(local, &self.attrs, &self.style);
        }
        if local.eq_ignore_ascii_case(b"tab") || local.eq_ignore_ascii_case(b"s") {
            out.push(b' ');
        } else if local.eq_ignore_ascii_case(b"td") || local.eq_ignore_ascii_case(b"th") {
            // The cells of a row read as a TSV row does (a cell's end may be left out).
            if !closing {
                out.push(b'\t');
            }
        } else if !self.inline {
            out.push(b'\n');
        }
    }
}

/// The local name of a tag (`/w:t/` -> `t`).
fn local_name(name: &[u8]) -> &[u8] {
    let name = name.strip_prefix(b"/").unwrap_or(name);
    let name = name.strip_suffix(b"/").unwrap_or(name);
    match name.iter().rposition(|&c| c == b':') {
        Some(k) => &name[k + 1..],
        None => name,
    }
}

fn is_inline(name: &[u8]) -> bool {
    let local = local_name(name);
    let mut lower = [0u8; 24];
    let Some(l) = lower.get_mut(..local.len()) else {
        return false;
    };
    l.copy_from_slice(local);
    l.make_ascii_lowercase();
    // The same names as INLINE_TAGS, as a match the compiler turns into length and byte tests.
    matches!(&*l, |b"a"| b"abbr"
        | b"b"
        | b"bcs"
        | b"big"
        | b"bookmarkend"
        | b"bookmarkstart"
        | b"code"
        | b"color"
        | b"del"
        | b"em"
        | b"font"
        | b"highlight"
        | b"i"
        | b"ics"
        | b"ins"
        | b"kern"
        | b"lang"
        | b"lastrenderedpagebreak"
        | b"mark"
        | b"noproof"
        | b"position"
        | b"prooferr"
        | b"r"
        | b"rfonts"
        | b"rpr"
        | b"rstyle"
        | b"small"
        | b"smarttag"
        | b"softhyphen"
        | b"spacing"
        | b"span"
        | b"strong"
        | b"sub"
        | b"sup"
        | b"sz"
        | b"szcs"
        | b"t"
        | b"u"
        | b"vertalign"
        | b"w")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup text of `data` fed in pieces of `size` bytes.
    /// The text and the aside of `data` fed in pieces of `size` bytes.
    fn markup_in_pieces(data: &[u8], size: usize) -> (Vec<u8>, Vec<u8>) {
        let (mut markup, mut text, mut out, mut aside) = (Markup::new(), Vec::new(), Vec::new(), Vec::new());
        for piece in data.chunks(size) {
            out.clear();
            markup.push(piece, &mut out, &mut aside);
            text.extend_from_slice(&out);
        }
        (text, aside)
    }

    #[test]
    fn comment_and_cdata_ends_split_anywhere_give_the_same_text() {
        // Found by the extract_bytewise fuzz target: the `--` or `]]` before `>` was taken back
        // from the current piece's output, so a piece boundary inside `-->` left it in the text.
        let html = b"a<!-- card 4111 1111 1111 1111 -- x --->b<![CDATA[ssn 123-45-6789]]]>c<!---->d";
        let whole = markup_in_pieces(html, html.len());
        assert_eq!(whole.0, b"abssn 123-45-6789]cd");
        // The aside also holds the tag names (`!--`, `![CDATA[`).
        assert_eq!(whole.1, b"!--\n card 4111 1111 1111 1111 -- x -\n![CDATA[!--\n\n");
        for size in 1..html.len() {
            assert_eq!(markup_in_pieces(html, size), whole, "pieces of {size} bytes");
        }
    }

    #[test]
    fn hidden_elements_are_read_apart_split_anywhere() {
        let html = b"<p>4111 1111 <span style=\"display: none\">99<span>9</span>9 <br/></span>1111 1111</p><div hidden>a<div>b</div>c</div>d<input hidden value=x>e<td>1</td><td>2";
        let hidden_in_pieces = |size: usize| {
            let (mut m, mut text, mut aside, mut hidden) =
                (Markup::new(), Vec::new(), Vec::new(), Vec::new());
            for piece in html.chunks(size) {
                m.push(piece, &mut text, &mut aside);
                hidden.append(m.hidden_text());
            }
            (text, aside, hidden)
        };
        let whole = hidden_in_pieces(html.len());
        assert_eq!(String::from_utf8_lossy(&whole.0), "\n4111 1111 1111 1111\n\nd\ne\t1\t2");
        assert_eq!(String::from_utf8_lossy(&whole.2), "\n9999 \n\n\na\nb\nc\n\n");
        for size in 1..html.len() {
            assert_eq!(hidden_in_pieces(size), whole, "pieces of {size}");
        }
    }

    fn markup(chunks: &[&[u8]]) -> String {
        markup_and_aside(chunks).0
    }

    /// The text and the aside of `chunks` fed in turn.
    fn markup_and_aside(chunks: &[&[u8]]) -> (String, String) {
        let mut m = Markup::new();
        let (mut out, mut aside) = (Vec::new(), Vec::new());
        for c in chunks {
            m.push(c, &mut out, &mut aside);
        }
        (String::from_utf8(out).unwrap(), String::from_utf8(aside).unwrap())
    }

    #[test]
    fn inline_tags_are_sorted_and_found_in_any_case() {
        assert!(INLINE_TAGS.windows(2).all(|w| w[0] < w[1]));
        for t in INLINE_TAGS {
            assert!(is_inline(t), "{}", String::from_utf8_lossy(t));
        }
        assert!(
            is_inline(b"w:rPr")
                && is_inline(b"/SPAN")
                && is_inline(b"a:t/")
                && !is_inline(b"p")
                && !is_inline(b"w:p")
        );
    }

    #[test]
    fn markup_strips_tags_and_joins_runs() {
        let s = markup(&[b"<w:p><w:r><w:t>4111</w:t></w:r><w:r><w:t>1111</w:t></w:r></w:p><w:p>x</w:p>"]);
        assert!(s.contains("41111111"), "{s:?}");
        assert!(s.contains("1111\n"), "{s:?}");
        // References stay for the normaliser.
        let s = markup(&[b"<p>a &amp; b &#52;&#x31;</p><!-- secret --><input value=\"v&lt;1\">"]);
        assert!(s.contains("a &amp; b &#52;&#x31;"), "{s:?}");
        assert!(!s.contains("secret"), "{s:?}");
        let (_, aside) = markup_and_aside(&[b"<p>a</p><!-- secret -->"]);
        assert!(aside.contains("\n secret \n"), "{aside:?}");
        assert!(s.contains("v&lt;1"), "{s:?}");
        // The text around a comment joins, as a browser shows it.
        let s = markup(&[b"<p>4111 1111<!-- x --> 1111<!---->1111</p>"]);
        assert!(s.contains("4111 1111 11111111"), "{s:?}");
        // `<!-->` and `<!--->` are empty comments: what follows them is shown.
        let s = markup(&[b"<p>4111<!-->1111<!--->1111<!-- -->1111</p>"]);
        assert!(s.contains("4111111111111111"), "{s:?}");
        let s = markup(&[b"<a><![CDATA[x<y]]></a>"]);
        assert!(s.contains("x<y"), "{s:?}");
    }

    #[test]
    fn data_attributes_of_inline_tags_are_text() {
        let doc: &[u8] = b"4<span class=\"a\">1</span>11 <a class=x href=\"data:,4111\" title='t 9'>link</a> <w:r w:rsidR=\"00A1\"><w:t xml:space=\"preserve\">x</w:t></w:r> <span data-card = \"5500\">";
        let whole = markup(&[doc]);
        assert!(whole.contains("4111 \ndata:,4111\n\nt 9\nlink"), "{whole:?}");
        assert!(whole.contains("\n5500\n"), "{whole:?}");
        assert!(
            !whole.contains("00A1") && !whole.contains("preserve") && !whole.contains("\na\n"),
            "{whole:?}"
        );
        for k in 0..doc.len() {
            assert_eq!(markup(&[&doc[..k], &doc[k..]]), whole, "split at {k}");
        }
    }

    #[test]
    fn what_is_not_text_in_a_tag_goes_aside() {
        let doc: &[u8] = b"<p>a<span x=\"4111 1111 1111 1111\">b</span><input value=5500-0000-0000-0004 >\
<?pi 123-45-6789?><w:r w:rsidR=\"00A1\"><w:t>c</w:t></w:r> price <4111 1111 1111 1111> d</p>";
        let (text, aside) = markup_and_aside(&[doc]);
        assert_eq!(text, "\nab\n\nc price <4111 1111 1111 1111> d\n", "{aside:?}");
        for value in ["4111 1111 1111 1111", "value=5500-0000-0000-0004", "?pi 123-45-6789?", "00A1"] {
            assert!(aside.contains(value), "{value}: {aside:?}");
        }
        for k in 0..doc.len() {
            assert_eq!(
                markup_and_aside(&[&doc[..k], &doc[k..]]),
                (text.clone(), aside.clone()),
                "split at {k}"
            );
        }
    }
}
