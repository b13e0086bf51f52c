//! `evidence.json`'s layout: pretty down to the members of the top-level arrays, each of which is one compact line
//! (an account, a row of the matrix, a region, a control). A large organization's matrix has a row per account and
//! region: one line each keeps the file a third of its fully indented size, and still diffs line by line. Written
//! straight to its file, with its SHA-256 taken on the way.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;
use sha2::{Digest, Sha256};

/// How deep containers are laid out over lines; deeper ones are compact.
const PRETTY_LEVELS: usize = 2;

/// serde_json's pretty layout for the outer levels, compact below.
#[derive(Default)]
struct Shallow {
    level: usize,
    has_value: bool,
}

impl Shallow {
    fn pretty(&self) -> bool {
        self.level <= PRETTY_LEVELS
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W, level: usize) -> io::Result<()> {
        w.write_all(b"\n")?;
        (0..level).try_for_each(|_| w.write_all(b"  "))
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        if self.pretty() && self.has_value {
            self.newline(w, self.level - 1)?;
        }
        self.level -= 1;
        w.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.pretty() {
            self.newline(w, self.level)?;
        }
        Ok(())
    }
}

impl Formatter for Shallow {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.pretty() { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A writer that takes the SHA-256 of what passes through it.
pub(crate) struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self { inner, hash: Sha256::new() }
    }

    /// The SHA-256 of everything written, as 64 lowercase hex digits; `inner` flushed.
    pub(crate) fn finish(mut self) -> io::Result<String> {
        self.inner.flush()?;
        Ok(self.hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `value` as `evidence.json` lays it out, with a newline at the end.
pub(crate) fn write<W: Write, T: Serialize>(w: &mut W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, Shallow::default());
    value.serialize(&mut ser).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T: Serialize>(value: &T) -> String {
        let mut out = Vec::new();
        write(&mut out, value).expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_outer_levels_are_laid_out_and_each_member_of_an_array_is_one_line() {
        let v = serde_json::json!({"a": 1, "list": [{"x": [1, 2], "y": {"z": null}}, {"x": []}], "empty": [], "o": {}});
        assert_eq!(
            text(&v),
            "{\n  \"a\": 1,\n  \"list\": [\n    {\"x\":[1,2],\"y\":{\"z\":null}},\n    {\"x\":[]}\n  ],\n  \"empty\": [],\n  \"o\": {}\n}\n"
        );
        // and it is the same JSON
        let back: serde_json::Value = serde_json::from_str(&text(&v)).expect("JSON");
        assert_eq!(back, v);
    }

    #[test]
    fn the_hash_is_of_what_was_written() {
        let mut w = Hashing::new(Vec::new());
        w.write_all(b"{}\n").expect("written");
        assert_eq!(w.finish().expect("hash"), super::super::sums::sha256(b"{}\n"));
    }
}
