//! A streaming CSV reader for `edm index`: RFC 4180 fields (quotes, embedded commas and
//! newlines) by `csv-core`, a UTF-8 byte-order mark skipped, and every record bounded so an
//! unbalanced quote cannot pull the rest of a large file into memory.

use std::io::BufRead;

use csv_core::ReadRecordResult;

/// Largest record, in bytes of field data: a quote left open fails here, not at the end of
/// the file.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most fields in one record.
pub const MAX_FIELDS: usize = 1024;

/// Why the file cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// Reading failed.
    #[error("reading the CSV: {0}")]
    Io(#[from] std::io::Error),
    /// A record is over [`MAX_RECORD_BYTES`] or [`MAX_FIELDS`].
    #[error("the record starting on line {line} is over {what} (a quote left open?)")]
    TooLarge {
        /// Where it starts.
        line: u64,
        /// Which limit.
        what: String,
    },
}

/// One record: the line it starts on and its fields.
pub type Record<'a> = (u64, Vec<&'a [u8]>);

/// Records of a CSV file, one at a time.
#[derive(Debug)]
pub struct CsvRecords<R> {
    input: R,
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    started: bool,
}

impl<R: BufRead> CsvRecords<R> {
    /// Reads `input`.
    pub fn new(input: R) -> Self {
        Self { input, core: csv_core::Reader::new(), out: vec![0; 4096], ends: vec![0; 16], started: false }
    }

    /// The next record and the line it starts on, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CsvError> {
        if !self.started {
            self.started = true;
            let head = self.input.fill_buf()?;
            if head.starts_with(b"\xEF\xBB\xBF") {
                self.input.consume(3);
            }
        }
        // Line ends between records (and blank lines) are skipped here, so the line counted
        // is the one the record's first byte is on.
        loop {
            let buf = self.input.fill_buf()?;
            let skip = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            if skip == 0 {
                break;
            }
            let newlines = buf[..skip].iter().filter(|&&b| b == b'\n').count() as u64;
            self.input.consume(skip);
            self.core.set_line(self.core.line() + newlines);
        }
        let line = self.core.line();
        let (mut outlen, mut endlen) = (0usize, 0usize);
        loop {
            let input = self.input.fill_buf()?;
            let (res, nin, nout, nend) =
                self.core.read_record(input, &mut self.out[outlen..], &mut self.ends[endlen..]);
            self.input.consume(nin);
            outlen += nout;
            endlen += nend;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.out.len() >= MAX_RECORD_BYTES {
                        return Err(CsvError::TooLarge { line, what: format!("{MAX_RECORD_BYTES} bytes") });
                    }
                    let grown = (self.out.len() * 2).min(MAX_RECORD_BYTES);
                    self.out.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_FIELDS {
                        return Err(CsvError::TooLarge { line, what: format!("{MAX_FIELDS} fields") });
                    }
                    let grown = (self.ends.len() * 2).min(MAX_FIELDS);
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => {
                    let mut fields = Vec::with_capacity(endlen);
                    let mut start = 0;
                    for &end in &self.ends[..endlen] {
                        let end = end.min(outlen);
                        fields.push(&self.out[start.min(end)..end]);
                        start = end;
                    }
                    return Ok(Some((line, fields)));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> Vec<(u64, Vec<String>)> {
        let mut r = CsvRecords::new(std::io::BufReader::with_capacity(7, text));
        let mut out = Vec::new();
        while let Some((line, fields)) = r.next_record().unwrap() {
            out.push((line, fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()));
        }
        out
    }

    #[test]
    fn quotes_commas_newlines_and_a_bom() {
        let rows = all(b"\xEF\xBB\xBFid,name\r\n1,\"Doe, Jane\"\r\n2,\"two\nlines \"\"quoted\"\"\"\n3,x\n");
        assert_eq!(rows[0], (1, vec!["id".to_string(), "name".to_string()]));
        assert_eq!(rows[1], (2, vec!["1".to_string(), "Doe, Jane".to_string()]));
        assert_eq!(rows[2], (3, vec!["2".to_string(), "two\nlines \"quoted\"".to_string()]));
        assert_eq!(rows[3], (5, vec!["3".to_string(), "x".to_string()]));
    }

    #[test]
    fn an_open_quote_stops_at_the_limit() {
        let mut text = b"id,name\n1,\"open\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        let mut r = CsvRecords::new(std::io::BufReader::new(&text[..]));
        assert!(r.next_record().unwrap().is_some());
        match r.next_record() {
            Err(CsvError::TooLarge { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        let many = "a,".repeat(MAX_FIELDS + 1);
        let mut r = CsvRecords::new(std::io::BufReader::new(many.as_bytes()));
        assert!(matches!(r.next_record(), Err(CsvError::TooLarge { .. })));
    }
}
