//! Splitting a byte stream into records without holding more than one record: capped lines, and
//! the top-level values of a JSON document (the elements of an array, or values back to back).

use std::io::{self, BufRead};

/// Outcome of reading one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// End of input; nothing read.
    Eof,
    /// A whole line (without its `\n`) is in the buffer.
    Complete,
    /// The line was longer than the cap: the buffer holds its start, the rest was skipped.
    TooLong,
}

/// Read one line into `buf` (cleared first), keeping at most `cap` bytes of it; the rest of an
/// over-long line is skipped so that the next call starts on the next line.
pub fn read_line_capped<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut any = false;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (take, found) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        if take > room {
            too_long = true;
        }
        buf.extend_from_slice(&available[..take.min(room)]);
        reader.consume(if found { take + 1 } else { take });
        if found {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(match (any, too_long) {
        (false, _) => Line::Eof,
        (true, true) => Line::TooLong,
        (true, false) => Line::Complete,
    })
}

/// One top-level JSON value found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonValue {
    /// 1-based line where it starts.
    pub line: u64,
    /// Its bytes, or why it could not be cut out (too large, unterminated, misplaced).
    pub bytes: Result<Vec<u8>, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not started yet.
    Start,
    /// Inside a top-level array: values are its elements.
    Array,
    /// One value per line (NDJSON).
    Lines,
    /// Values back to back, possibly spanning lines (a pretty-printed object).
    Values,
    Done,
}

/// The top-level values of a JSON document read from a stream: a top-level array yields its
/// elements; otherwise the document is NDJSON (when its first line is a whole value) or a sequence
/// of (possibly pretty-printed) values. Structural damage that makes the rest unreadable ends the
/// stream after one error value.
pub struct JsonValues<R> {
    reader: R,
    mode: Mode,
    line: u64,
    cap: usize,
    /// Bytes read ahead in `Values` mode after detection (the first line, re-scanned).
    replay: Vec<u8>,
    replay_pos: usize,
}

impl<R: BufRead> JsonValues<R> {
    pub fn new(reader: R, cap: usize) -> Self {
        JsonValues {
            reader,
            mode: Mode::Start,
            line: 1,
            cap,
            replay: Vec::new(),
            replay_pos: 0,
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        if let Some(b) = self.replay.get(self.replay_pos) {
            return Ok(Some(*b));
        }
        loop {
            match self.reader.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn bump(&mut self) {
        if self.replay_pos < self.replay.len() {
            if self.replay[self.replay_pos] == b'\n' {
                self.line += 1;
            }
            self.replay_pos += 1;
            return;
        }
        if let Ok(b) = self.reader.fill_buf()
            && let Some(first) = b.first()
        {
            if *first == b'\n' {
                self.line += 1;
            }
            self.reader.consume(1);
        }
    }

    /// Skip whitespace (and a byte-order mark); returns the next byte without consuming it.
    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0xEF | 0xBB | 0xBF) => self.bump(),
                other => return Ok(other),
            }
        }
    }

    /// Cut one value starting at the next byte (already known not to be whitespace). The flag says
    /// whether the stream is still readable after it (a too-large value is skipped whole; an
    /// unterminated one is not).
    fn scan_value(&mut self) -> io::Result<(JsonValue, bool)> {
        let line = self.line;
        let mut bytes = Vec::new();
        let mut too_large = false;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        loop {
            let Some(b) = self.peek()? else {
                if depth == 0 && !in_string {
                    break;
                }
                let value = JsonValue {
                    line,
                    bytes: Err("unexpected end of input inside a JSON value".to_string()),
                };
                return Ok((value, false));
            };
            if !in_string && depth == 0 && started {
                // A scalar ends at a delimiter; a container ended when depth came back to 0.
                if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'[' | b'{') {
                    break;
                }
            }
            self.bump();
            started = true;
            if bytes.len() < self.cap {
                bytes.push(b);
            } else {
                too_large = true;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        let value = JsonValue {
            line,
            bytes: if too_large {
                Err(format!("record larger than {} bytes", self.cap))
            } else {
                Ok(bytes)
            },
        };
        Ok((value, true))
    }

    fn next_value(&mut self) -> io::Result<Option<JsonValue>> {
        loop {
            match self.mode {
                Mode::Done => return Ok(None),
                Mode::Start => {
                    match self.skip_ws()? {
                        None => {
                            self.mode = Mode::Done;
                            return Ok(None);
                        }
                        Some(b'[') => {
                            self.bump();
                            self.mode = Mode::Array;
                        }
                        Some(_) => {
                            let start = self.line;
                            let mut first = Vec::new();
                            let outcome = read_line_capped(&mut self.reader, &mut first, self.cap)?;
                            let whole = outcome == Line::Complete
                                && !matches!(
                                    serde_json::from_slice::<serde::de::IgnoredAny>(&first),
                                    Err(e) if e.is_eof()
                                );
                            if whole || outcome == Line::TooLong {
                                self.mode = Mode::Lines;
                                self.line = start + 1;
                                let bytes = if outcome == Line::TooLong {
                                    Err(format!("record larger than {} bytes", self.cap))
                                } else {
                                    Ok(first)
                                };
                                return Ok(Some(JsonValue { line: start, bytes }));
                            }
                            // A value spanning lines: scan it again from the start.
                            first.push(b'\n');
                            self.replay = first;
                            self.replay_pos = 0;
                            self.line = start;
                            self.mode = Mode::Values;
                        }
                    }
                }
                Mode::Lines => {
                    let mut buf = Vec::new();
                    let line = self.line;
                    let outcome = read_line_capped(&mut self.reader, &mut buf, self.cap)?;
                    self.line += 1;
                    match outcome {
                        Line::Eof => {
                            self.mode = Mode::Done;
                            return Ok(None);
                        }
                        Line::TooLong => {
                            return Ok(Some(JsonValue {
                                line,
                                bytes: Err(format!("record larger than {} bytes", self.cap)),
                            }));
                        }
                        Line::Complete => {
                            if buf.trim_ascii().is_empty() {
                                continue;
                            }
                            return Ok(Some(JsonValue {
                                line,
                                bytes: Ok(buf),
                            }));
                        }
                    }
                }
                Mode::Values => match self.skip_ws()? {
                    None => {
                        self.mode = Mode::Done;
                        return Ok(None);
                    }
                    Some(_) => {
                        let (v, readable) = self.scan_value()?;
                        if !readable {
                            self.mode = Mode::Done;
                        }
                        return Ok(Some(v));
                    }
                },
                Mode::Array => match self.skip_ws()? {
                    None => {
                        self.mode = Mode::Done;
                        return Ok(Some(JsonValue {
                            line: self.line,
                            bytes: Err("unexpected end of input: the array is not closed".into()),
                        }));
                    }
                    Some(b']') => {
                        self.bump();
                        self.mode = Mode::Done;
                        return match self.skip_ws()? {
                            None => Ok(None),
                            Some(_) => Ok(Some(JsonValue {
                                line: self.line,
                                bytes: Err("unexpected content after the closing ]".into()),
                            })),
                        };
                    }
                    Some(b',') => self.bump(),
                    Some(_) => {
                        let (v, readable) = self.scan_value()?;
                        if !readable {
                            self.mode = Mode::Done;
                        }
                        return Ok(Some(v));
                    }
                },
            }
        }
    }
}

impl<R: BufRead> Iterator for JsonValues<R> {
    type Item = io::Result<JsonValue>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_value() {
            Ok(v) => v.map(Ok),
            Err(e) => {
                self.mode = Mode::Done;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(u64, Result<String, String>)> {
        JsonValues::new(text.as_bytes(), 1024)
            .map(|v| {
                let v = v.expect("io");
                (v.line, v.bytes.map(|b| String::from_utf8(b).expect("utf8")))
            })
            .collect()
    }

    #[test]
    fn arrays_yield_their_elements() {
        let got = values("[\n {\"a\": [1, \"]\"]},\n {\"b\": \"x\\\"}\"}\n]\n");
        assert_eq!(
            got,
            vec![
                (2, Ok("{\"a\": [1, \"]\"]}".to_string())),
                (3, Ok("{\"b\": \"x\\\"}\"}".to_string())),
            ]
        );
        assert_eq!(values("[]"), vec![]);
        assert!(values("[{\"a\":1}").last().expect("one").1.is_err());
    }

    #[test]
    fn ndjson_lines_and_pretty_objects() {
        assert_eq!(
            values("{\"a\":1}\n\n{not json\n{\"b\":2}\n"),
            vec![
                (1, Ok("{\"a\":1}".to_string())),
                (3, Ok("{not json".to_string())),
                (4, Ok("{\"b\":2}".to_string())),
            ]
        );
        assert_eq!(
            values("{\n  \"a\": 1\n}\n{\n \"b\": 2}"),
            vec![
                (1, Ok("{\n  \"a\": 1\n}".to_string())),
                (4, Ok("{\n \"b\": 2}".to_string())),
            ]
        );
    }

    #[test]
    fn too_large_values_are_skipped_whole() {
        let big = format!("[{{\"a\":\"{}\"}}, {{\"b\":1}}]", "x".repeat(2000));
        let got = values(&big);
        assert_eq!(got.len(), 2);
        assert!(got[0].1.as_ref().is_err_and(|e| e.contains("larger")));
        assert_eq!(got[1].1, Ok("{\"b\":1}".to_string()));
    }

    #[test]
    fn capped_lines() {
        let mut r = "abc\r\ndefghij\nk".as_bytes();
        let mut buf = Vec::new();
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 4).unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"abc");
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 4).unwrap(),
            Line::TooLong
        );
        assert_eq!(buf, b"defg");
        assert_eq!(
            read_line_capped(&mut r, &mut buf, 4).unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"k");
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Line::Eof);
    }
}
