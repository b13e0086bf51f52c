//! `SHA256SUMS` in the format `sha256sum` writes and `sha256sum -c` checks (GNU coreutils, "md5sum invocation": the
//! checksum, a space, a flag for the mode (a space for text, `*` for binary) and the file name): one line per file,
//! 64 lowercase hex digits, two spaces, the name, LF. Names with a backslash or a newline, which the format escapes,
//! are never written.

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One line of SHA256SUMS: the checksum (64 lowercase hex digits), two spaces, the name.
pub(crate) fn line(name: &str, sha256: &str) -> String {
    format!("{sha256}  {name}\n")
}

/// One line read: the checksum and the file name, or `None` where the line is not of the format.
pub(crate) fn parse_line(line: &str) -> Option<(&str, &str)> {
    let (sum, rest) = (line.get(..64)?, line.get(64..)?);
    let name = rest.strip_prefix("  ").or_else(|| rest.strip_prefix(" *"))?;
    let hex = sum.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex && !name.is_empty() && !name.contains('\\')).then_some((sum, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_checksum_two_spaces_and_the_name() {
        let text = line("evidence.json", &sha256(b"{}\n")) + &line("evidence.csv", &sha256(b""));
        assert_eq!(
            text,
            "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356  evidence.json\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  evidence.csv\n"
        );
        let lines: Vec<_> = text.lines().map(parse_line).collect();
        assert_eq!(
            lines[1],
            Some(("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "evidence.csv"))
        );
    }

    #[test]
    fn binary_mode_is_read_and_malformed_lines_are_not() {
        let sum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(parse_line(&format!("{sum} *a.csv")), Some((sum, "a.csv")));
        for bad in [
            format!("{sum} a.csv"),
            format!("{}  a.csv", sum.to_uppercase()),
            format!("{}  a.csv", &sum[1..]),
            format!("{sum}  "),
            format!("\\{sum}  a\\nb.csv"),
            "SHA256 (a.csv) = 00".to_owned(),
        ] {
            assert_eq!(parse_line(&bad), None, "{bad}");
        }
    }
}
