//! HTML and XML to text: tags removed, attribute values kept, comments and processing
//! instructions read apart (in the aside, below). Which tags break the text depends on the
//! document, decided at its first element ([`Mode`]): in HTML only the block elements do
//! (a browser shows every other element, known or not, inline); in other XML an element
//! inside mixed content joins the text around it, as the parent's text content does,
//! and elsewhere separates values (`<row><a>1234</a><b>5678</b></row>` stays two values). Character references are left to the normaliser, which decodes them
//! once, after the tags are gone (so `&lt;b&gt;` is text, not a tag).
//!
//! Every byte inside a tag that is not text goes to a second output, the aside: tag names,
//! attribute names, unquoted values, the values of inline tags (formatting in office runs,
//! `class` and `style` in HTML) and processing instructions. Emitted among the text they
//! would cut a value split across runs apart; dropped, they would hide whatever is put in
//! them (`<span x="4111 1111 1111 1111">`, `<input value=4111-1111-1111-1111>`).

use super::hidden::{Hidden, ATTRS_MAX};

/// Local names of runs and formatting in office XML and of HTML's oldest inline elements:
/// their attribute values are formatting (read aside), and with a namespace prefix
/// (`w:r`, `a:t`) they join the text around them in any XML. [`is_inline`] holds the same
/// names as a match; this sorted list is what the tests check it against.
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
    /// HTML or other XML, decided at the first element (see [`Mode`]).
    mode: Mode,
    /// An XML declaration, or a doctype other than HTML's, came before the first element.
    declared: bool,
    /// What the tag being read puts between the text around it.
    brk: Break,
    /// Other XML: the open elements (a hash of the name, and whether text of its own has been
    /// seen in it), the document itself first; nesting deeper than [`MAX_STACK`] shares the
    /// deepest entry.
    stack: Vec<Open>,
    overflow: u32,
    /// Other XML: the element whose mixed content decides whether the tags since the last
    /// text break it: they do unless text of its own has been seen in it by the time the
    /// next text comes.
    soft: Option<usize>,
}

/// How the document's tags are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No element yet.
    Undecided,
    /// HTML (or XHTML): the block elements break the text, every other element (inline,
    /// replaced, unknown or custom) joins what is on either side of it, as a browser
    /// shows it.
    Html,
    /// Other XML: an element joins the text on either side of it inside mixed content (an
    /// element that holds text of its own besides elements), as the parent's text content
    /// does; elsewhere it separates (data files put each value in an element of its own).
    Xml,
}

/// What a tag puts between the text on either side of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    /// Nothing: the text joins.
    None,
    /// A space (`w:tab`, `text:s`).
    Space,
    /// A tab (a table cell starts).
    Cell,
    /// A line break.
    Line,
    /// Other XML: a line break unless the parent element turns out to be mixed content.
    Soft,
}

/// An open element of other XML.
#[derive(Debug, Clone, Copy)]
struct Open {
    name: u32,
    mixed: bool,
}

/// Element nesting tracked in other XML.
const MAX_STACK: usize = 256;
/// Open elements an end tag is matched against.
const END_SEARCH: usize = 8;

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
            mode: Mode::Undecided,
            declared: false,
            brk: Break::Line,
            stack: Vec::new(),
            overflow: 0,
            soft: None,
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
                    let seg = &rest[..k.unwrap_or(rest.len())];
                    if self.mode == Mode::Xml {
                        self.xml_text(seg, out);
                    } else {
                        out.extend_from_slice(seg);
                    }
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
                        self.classify();
                        self.end_tag(out, aside);
                    }
                    b' ' | b'\t' | b'\r' | b'\n' | b'/'
                        if !self.name.is_empty() && !self.name.starts_with(b"!") =>
                    {
                        self.state = Tag::Attrs;
                        self.classify();
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
                if self.state == Tag::Cdata
                    && self.mode == Mode::Xml
                    && !(b == b']' && self.held < 2 || b == b'>' && self.held == 2)
                    && (self.held > 0 || !b.is_ascii_whitespace())
                {
                    // Text of the element the section is in, as any other.
                    self.own_text(out);
                }
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

    /// Text outside tags in other XML: the first byte that is not white space is text of
    /// the open element's own (mixed content), and decides the tags before it.
    fn xml_text(&mut self, seg: &[u8], out: &mut Vec<u8>) {
        let top_mixed = self.stack.last().is_none_or(|o| o.mixed);
        if top_mixed && self.soft.is_none() {
            out.extend_from_slice(seg);
            return;
        }
        let Some(k) = seg.iter().position(|b| !b.is_ascii_whitespace()) else {
            out.extend_from_slice(seg);
            return;
        };
        if k > 0 {
            out.extend_from_slice(&seg[..k]);
        }
        self.own_text(out);
        out.extend_from_slice(&seg[k..]);
    }

    /// Other XML: text that is not white space comes in the open element, which is mixed
    /// content from now on; a pending soft break is decided.
    fn own_text(&mut self, out: &mut Vec<u8>) {
        if let Some(top) = self.stack.last_mut() {
            top.mixed = true;
        }
        if let Some(p) = self.soft.take() {
            if !self.stack.get(p).is_some_and(|o| o.mixed) {
                out.push(b'\n');
            }
        }
    }

    /// What the tag whose name has just been read is: sets [`Markup::brk`] and how its
    /// attributes are read, and decides the document's [`Mode`] at its first element.
    fn classify(&mut self) {
        let name = self.name.as_slice();
        match name.first() {
            Some(b'!') => {
                self.html = false;
                // A doctype (comments and CDATA do not come here).
                if self.mode == Mode::Undecided {
                    let html = name.len() >= 13 && name[1..13].eq_ignore_ascii_case(b"doctype html");
                    if html {
                        self.mode = Mode::Html;
                    } else {
                        self.declared = true;
                    }
                }
                self.brk = Break::Line;
                self.inline = false;
                self.track_attrs = false;
                return;
            }
            Some(b'?') => {
                // A processing instruction (or HTML's bogus comment): read aside, it shows
                // nothing and splits nothing.
                self.html = false;
                if self.mode == Mode::Undecided && name.len() >= 4 && name[1..4].eq_ignore_ascii_case(b"xml")
                {
                    self.declared = true;
                }
                self.brk = Break::None;
                self.inline = true;
                self.track_attrs = false;
                return;
            }
            _ => {}
        }
        let (local, prefixed) = split_name(name);
        // Only HTML's inline tags (no namespace prefix) carry data attributes.
        self.html = !prefixed;
        let mut lower = [0u8; 24];
        let l: &[u8] = match lower.get_mut(..local.len()) {
            Some(l) => {
                l.copy_from_slice(local);
                l.make_ascii_lowercase();
                l
            }
            None => b"",
        };
        let closing = name.first() == Some(&b'/');
        let block = block_level(l);
        if self.mode == Mode::Undecided {
            self.mode = if l == b"html" || (!self.declared && !prefixed && (block > 0 || html_inline(l))) {
                Mode::Html
            } else {
                Mode::Xml
            };
        }
        self.brk = match l {
            b"tab" => Break::Space,
            b"s" if prefixed => Break::Space,
            // The cells of a row read as a TSV row does (a cell's end may be left out).
            b"td" | b"th" if closing => Break::None,
            b"td" | b"th" => Break::Cell,
            _ if block == 2 || (block == 1 && self.mode == Mode::Html) => Break::Line,
            _ if self.mode == Mode::Html => Break::None,
            b"tspan" => Break::None,
            _ if prefixed && is_inline(l) => Break::None,
            _ => Break::Soft,
        };
        if self.mode == Mode::Html {
            self.inline = self.brk == Break::None;
            self.track_attrs = self.inline && !prefixed;
        } else {
            // Attribute values of an element inside mixed content are aside: among the text
            // they would cut apart what the parent's text content joins.
            let mixed = !closing && self.stack.last().is_some_and(|o| o.mixed);
            let joins = self.brk == Break::None || is_inline(l);
            self.inline = joins || mixed;
            self.track_attrs = !prefixed && !mixed && joins;
        }
    }

    fn end_tag(&mut self, out: &mut Vec<u8>, aside: &mut Vec<u8>) {
        self.state = Tag::Text;
        aside.push(b'\n');
        let local = local_name(&self.name);
        let closing = self.name.first() == Some(&b'/');
        let self_closing =
            self.name.last() == Some(&b'/') || self.attrs.trim_ascii_end().last() == Some(&b'/');
        let was_hidden = self.hidden.is_some();
        if let Some(h) = &mut self.hidden {
            if h.tag(local, closing, self_closing) {
                self.hidden = None;
            }
        } else if !closing && !self_closing {
            self.hidden = Hidden::starts(local, &self.attrs, &self.style);
        }
        let mut brk = self.brk;
        if self.mode == Mode::Xml && !matches!(self.name.first(), Some(b'!' | b'?')) {
            brk = self.xml_tag(closing, self_closing, brk, out);
        }
        if self.hidden.is_some() != was_hidden && self.soft.take().is_some() {
            out.push(b'\n');
        }
        match brk {
            Break::None | Break::Soft => {}
            Break::Space => out.push(b' '),
            Break::Cell => out.push(b'\t'),
            Break::Line => out.push(b'\n'),
        }
    }

    /// Other XML: the open elements follow the tag, and a soft break is decided now if the
    /// parent is known to be mixed content, or left to the next text.
    fn xml_tag(&mut self, closing: bool, self_closing: bool, brk: Break, out: &mut Vec<u8>) -> Break {
        if self.stack.is_empty() {
            self.stack.push(Open { name: 0, mixed: false });
        }
        let hash = name_hash(local_name(&self.name));
        if closing {
            if self.overflow > 0 {
                self.overflow -= 1;
            } else {
                let n = self.stack.len();
                // The document's own entry (index 0) is never closed.
                if let Some(k) = (1..n).rev().take(END_SEARCH).find(|&k| self.stack[k].name == hash) {
                    self.stack.truncate(k);
                    if self.soft.is_some_and(|p| p >= k) {
                        // The element deciding a pending break ended without text of its own.
                        self.soft = None;
                        out.push(b'\n');
                    }
                }
            }
        }
        let parent = self.stack.len() - 1;
        if !closing && !self_closing {
            if self.stack.len() < MAX_STACK {
                self.stack.push(Open { name: hash, mixed: false });
            } else {
                self.overflow += 1;
            }
        }
        match brk {
            Break::Soft => {
                if !self.stack[parent].mixed {
                    match self.soft {
                        None => self.soft = Some(parent),
                        Some(p) if p == parent => {}
                        Some(_) => {
                            self.soft = None;
                            out.push(b'\n');
                        }
                    }
                }
                Break::Soft
            }
            Break::None => Break::None,
            other => {
                self.soft = None;
                other
            }
        }
    }
}

/// FNV-1a of an element's local name (XML names are case-sensitive).
fn name_hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811C_9DC5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The local name of a tag (`/w:t/` -> `t`), and whether it has a namespace prefix.
fn split_name(name: &[u8]) -> (&[u8], bool) {
    let name = name.strip_prefix(b"/").unwrap_or(name);
    let name = name.strip_suffix(b"/").unwrap_or(name);
    match name.iter().rposition(|&c| c == b':') {
        Some(k) => (&name[k + 1..], true),
        None => (name, false),
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

/// HTML's elements that are not shown inline (lower case local name `l`): 2 for those that
/// structure any document (paragraphs, lists, tables, sections, headings, breaks), which
/// break the text in other XML too; 1 for those a browser shows apart or not at all
/// (scripts, templates, form options), whose names other vocabularies use for inline
/// elements (DocBook's `option`). Every other element is inline in HTML, void elements
/// that show nothing too (`meta`, `link`, `area`, `param`: no box, no break).
fn block_level(l: &[u8]) -> u8 {
    match l {
        b"address" | b"article" | b"aside" | b"blockquote" | b"body" | b"br" | b"dd" | b"div" | b"dl"
        | b"dt" | b"fieldset" | b"figcaption" | b"figure" | b"footer" | b"form" | b"h1" | b"h2" | b"h3"
        | b"h4" | b"h5" | b"h6" | b"head" | b"header" | b"hr" | b"html" | b"li" | b"main" | b"nav"
        | b"ol" | b"p" | b"pre" | b"section" | b"table" | b"tbody" | b"td" | b"tfoot" | b"th" | b"thead"
        | b"tr" | b"ul" => 2,
        b"caption" | b"center" | b"colgroup" | b"datalist" | b"details" | b"dialog" | b"dir" | b"frame"
        | b"frameset" | b"hgroup" | b"legend" | b"listing" | b"menu" | b"noembed" | b"noframes"
        | b"noscript" | b"optgroup" | b"option" | b"plaintext" | b"script" | b"search" | b"style"
        | b"summary" | b"template" | b"title" | b"xmp" => 1,
        _ => 0,
    }
}

/// HTML's inline elements, known only to tell an HTML document from other XML by its first
/// element (an HTML document shows every element that is not [`block_level`] inline).
fn html_inline(l: &[u8]) -> bool {
    matches!(
        l,
        b"a" | b"abbr"
            | b"acronym"
            | b"area"
            | b"audio"
            | b"b"
            | b"base"
            | b"basefont"
            | b"bdi"
            | b"bdo"
            | b"big"
            | b"blink"
            | b"button"
            | b"canvas"
            | b"cite"
            | b"code"
            | b"col"
            | b"data"
            | b"del"
            | b"dfn"
            | b"em"
            | b"embed"
            | b"font"
            | b"i"
            | b"iframe"
            | b"img"
            | b"input"
            | b"ins"
            | b"kbd"
            | b"label"
            | b"link"
            | b"map"
            | b"mark"
            | b"meta"
            | b"meter"
            | b"nobr"
            | b"object"
            | b"output"
            | b"param"
            | b"picture"
            | b"progress"
            | b"q"
            | b"rp"
            | b"rt"
            | b"ruby"
            | b"s"
            | b"samp"
            | b"select"
            | b"slot"
            | b"small"
            | b"span"
            | b"strike"
            | b"strong"
            | b"sub"
            | b"sup"
            | b"textarea"
            | b"time"
            | b"tt"
            | b"u"
            | b"var"
            | b"video"
            | b"wbr"
    )
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
        // `input` is inline: its hidden value (unquoted) is aside, the text around it joins.
        assert_eq!(String::from_utf8_lossy(&whole.0), "\n4111 1111 1111 1111\n\nde\t1\t2");
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
        // `span`, `input` and `w:r` are inline, a processing instruction splits nothing.
        assert_eq!(text, "\nabc price <4111 1111 1111 1111> d\n", "{aside:?}");
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

    /// The text of `doc`, checked to be the same fed in two pieces split anywhere.
    fn text_split_anywhere(doc: &[u8]) -> String {
        let whole = markup(&[doc]);
        for k in 0..doc.len() {
            assert_eq!(markup(&[&doc[..k], &doc[k..]]), whole, "split at {k}");
        }
        whole
    }

    #[test]
    fn html_breaks_at_block_elements_only() {
        // Inline, replaced, unknown and custom elements join the text, as a browser shows it.
        for t in [
            "wbr", "kbd", "samp", "var", "cite", "dfn", "q", "s", "strike", "tt", "nobr", "time", "data",
            "label", "output", "bdi", "bdo", "acronym", "blink", "x-foo", "foo", "img", "input", "select",
            "button", "iframe", "math", "svg", "tspan",
        ] {
            let doc = format!(
                "<html><body><p>Card 4111<{t}>1111</{t}>1111 <{t} class=\"c\"/>1111</p></body></html>"
            );
            let s = text_split_anywhere(doc.as_bytes());
            assert!(s.contains("Card 411111111111 1111"), "{t}: {s:?}");
        }
        let s = text_split_anywhere(b"<p>Card: 4111<wbr>1111<wbr>1111<wbr>1111</p>");
        assert!(s.contains("Card: 4111111111111111"), "{s:?}");
        // Block elements break it; table cells read as a TSV row.
        for t in ["p", "div", "li", "tr", "h2", "section", "option", "title", "script", "br"] {
            let doc = format!("<p>4111<{t}>1111</{t}>1111</p>");
            let s = text_split_anywhere(doc.as_bytes());
            assert!(!s.contains("41111111"), "{t}: {s:?}");
        }
        let s = text_split_anywhere(b"<table><tr><td>1</td><TD>2</td></tr><tr><th>3<th>4</table>");
        assert_eq!(s, "\n\n\t1\t2\n\n\t3\t4\n");
        // A processing instruction (a bogus comment in HTML) shows nothing and splits nothing.
        let s = text_split_anywhere(b"<p>4111<?pi x?>1111</p>");
        assert!(s.contains("41111111"), "{s:?}");
    }

    #[test]
    fn xml_joins_inside_mixed_content_only() {
        let joined = [
            &b"<?xml version=\"1.0\"?><article><para>Card <emphasis>4111</emphasis><phrase>1111</phrase><literal>1111</literal><emphasis>1111</emphasis></para></article>"[..],
            b"<?xml version=\"1.0\"?><topic><body><p>Card <ph>4111</ph><ph>1111</ph><ph>1111</ph><ph>1111</ph></p></body></topic>",
            b"<?xml version=\"1.0\"?><r>4111<?pi x?>1111<?pi?>1111<?pi?>1111</r>",
            b"<card>4111<x/>1111<x id=\"2\"/>1111<![CDATA[1111]]></card>",
            b"<?xml version=\"1.0\"?><doc><p><ph>4111</ph>1111<x></x>1111<y>1111</y></p></doc>",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"0\">4111<tspan>1111</tspan><tspan>1111</tspan><tspan>1111</tspan></text></svg>",
            b"<svg><text><tspan x=\"0\">4111</tspan><tspan x=\"40\">1111</tspan><tspan>1111</tspan><tspan>1111</tspan></text></svg>",
        ];
        for doc in joined {
            let s = text_split_anywhere(doc);
            assert!(s.contains("4111111111111111"), "{s:?} from {}", String::from_utf8_lossy(doc));
        }
        // Values each in an element of its own stay apart, whatever the names.
        let apart = [
            &b"<?xml version=\"1.0\"?><row><a>4111</a><b>1111</b><c>1111</c><d>1111</d></row>"[..],
            b"<card><g>4111</g><g>1111</g><g>1111</g><g>1111</g></card>",
            b"<rows>\n <row><n>4111</n><n>1111</n></row>\n <row><n>1111</n><n>1111</n></row>\n</rows>",
            b"<r><x><y>4111</y></x><y>1111</y>text<z>1111</z></r>",
        ];
        for doc in apart {
            let s = text_split_anywhere(doc);
            assert!(
                !s.contains("41111111") && !s.contains("11111111"),
                "{s:?} from {}",
                String::from_utf8_lossy(doc)
            );
        }
        // White space in mixed content stays as it is.
        let s =
            text_split_anywhere(b"<r>Card number: <a:b>4111</a:b> <b>1111</b> <b>1111</b> <b>1111</b></r>");
        assert!(s.contains("Card number: 4111 1111 1111 1111"), "{s:?}");
    }
}
