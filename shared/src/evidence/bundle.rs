//! The files of a report in a directory: `evidence.json`, `evidence.csv`, `evidence.html`, and `SHA256SUMS` of the
//! three; and their verification, as `sha256sum -c SHA256SUMS` would do it (and also requiring that the three are
//! listed, so that a bundle cut down to its checksums file does not verify).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::document::Evidence;
use super::error::EvidenceError;
use super::{csv, html, sums};

/// The files a report writes, besides [`SUMS`].
pub const FILES: [&str; 3] = ["evidence.json", "evidence.csv", "evidence.html"];
/// The checksums file.
pub const SUMS: &str = "SHA256SUMS";

/// Writes the report of `document` into `dir` (created if needed); returns the paths written.
pub fn write(dir: &Path, document: &Evidence) -> Result<Vec<PathBuf>, EvidenceError> {
    write_files(dir, document, csv::matrix(document), html::report(document))
}

/// Writes `json` (laid out by [`super::json`], straight to its file), `csv` and `html` as the three files, in the
/// order of [`FILES`], and their checksums, into `dir`.
pub(crate) fn write_files<T: Serialize>(
    dir: &Path,
    json: &T,
    csv: String,
    html: String,
) -> Result<Vec<PathBuf>, EvidenceError> {
    let failed = |operation, path: &Path| {
        let path = path.to_owned();
        move |source| EvidenceError::File { operation, path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed("create the directory", dir))?;
    let path = dir.join(FILES[0]);
    let file = std::fs::File::create(&path).map_err(failed("write", &path))?;
    let mut out = super::json::Hashing::new(std::io::BufWriter::new(file));
    super::json::write(&mut out, json).map_err(failed("write", &path))?;
    let mut sums = sums::line(FILES[0], &out.finish().map_err(failed("write", &path))?);
    let mut written = vec![path];
    for (name, text) in FILES[1..].iter().zip([csv, html]) {
        let path = dir.join(name);
        std::fs::write(&path, &text).map_err(failed("write", &path))?;
        sums.push_str(&sums::line(name, &sums::sha256(text.as_bytes())));
        written.push(path);
    }
    let path = dir.join(SUMS);
    std::fs::write(&path, sums).map_err(failed("write", &path))?;
    written.push(path);
    Ok(written)
}

/// What a verification found of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Its checksum matches.
    Ok,
    /// Its checksum does not match: it changed since the report was written.
    Mismatch,
    /// It is listed and absent.
    Missing,
    /// It is one of the report's files and not listed.
    Unlisted,
    /// A line of SHA256SUMS that is not of the format.
    Malformed(String),
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("OK"),
            Self::Mismatch => f.write_str("FAILED (checksum does not match)"),
            Self::Missing => f.write_str("FAILED (missing)"),
            Self::Unlisted => f.write_str("FAILED (not listed in SHA256SUMS)"),
            Self::Malformed(line) => write!(f, "FAILED (not a checksum line: {})", crate::ids::shorten(line, 80)),
        }
    }
}

/// A directory's verification: each file, and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Each file (or malformed line) in the order SHA256SUMS lists them, then the report's files it does not list.
    pub files: Vec<(String, Check)>,
}

impl Verification {
    /// Whether every file checked out.
    pub fn ok(&self) -> bool {
        !self.files.is_empty() && self.files.iter().all(|(_, c)| *c == Check::Ok)
    }
}

/// Verifies the report in `dir` against its SHA256SUMS.
pub fn verify(dir: &Path) -> Result<Verification, EvidenceError> {
    let path = dir.join(SUMS);
    let text =
        std::fs::read_to_string(&path).map_err(|source| EvidenceError::File { operation: "read", path, source })?;
    let mut files = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let Some((sum, name)) = sums::parse_line(line) else {
            files.push((String::new(), Check::Malformed(line.to_owned())));
            continue;
        };
        // Only names in the directory itself: a report lists its own files.
        let check = if name.contains('/') || name == ".." {
            Check::Malformed(line.to_owned())
        } else {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) if sums::sha256(&bytes) == sum => Check::Ok,
                Ok(_) => Check::Mismatch,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::Missing,
                Err(source) => return Err(EvidenceError::File { operation: "read", path: dir.join(name), source }),
            }
        };
        files.push((name.to_owned(), check));
    }
    for name in FILES {
        if !files.iter().any(|(n, _)| n == name) {
            files.push((name.to_owned(), Check::Unlisted));
        }
    }
    Ok(Verification { files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("evidence-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_written_report_verifies_and_any_change_to_it_does_not() {
        let dir = scratch("verify");
        let d = crate::evidence::fixture::evidence("2026-11-29T03:00:00Z", "a");
        let written = write(&dir, &d).expect("written");
        assert_eq!(written.len(), 4);
        assert!(verify(&dir).expect("read").ok());
        let sums = std::fs::read_to_string(dir.join(SUMS)).expect("sums");
        assert_eq!(sums.lines().map(|l| &l[66..]).collect::<Vec<_>>(), FILES);
        // a changed byte
        let csv = dir.join("evidence.csv");
        let mut bytes = std::fs::read(&csv).expect("csv");
        bytes[0] ^= 1;
        std::fs::write(&csv, &bytes).expect("tampered");
        let v = verify(&dir).expect("read");
        assert!(!v.ok());
        assert_eq!(v.files.iter().find(|(n, _)| n == "evidence.csv").map(|(_, c)| c), Some(&Check::Mismatch));
        // a file removed, and a checksums file cut down to one line
        std::fs::remove_file(dir.join("evidence.html")).expect("removed");
        std::fs::write(dir.join(SUMS), sums.lines().next().map(|l| format!("{l}\n")).unwrap_or_default()).expect("cut");
        let v = verify(&dir).expect("read");
        assert!(!v.ok());
        assert!(v.files.contains(&("evidence.html".to_owned(), Check::Unlisted)), "{v:?}");
        std::fs::write(dir.join(SUMS), sums.replace("evidence.csv", "../evidence.csv")).expect("escape");
        assert!(verify(&dir).expect("read").files.iter().any(|(_, c)| matches!(c, Check::Malformed(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_without_checksums_is_an_error_that_names_the_file() {
        let dir = scratch("empty");
        std::fs::create_dir_all(&dir).expect("dir");
        let err = verify(&dir).expect_err("no SHA256SUMS");
        assert!(err.to_string().contains("SHA256SUMS"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
