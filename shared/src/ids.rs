//! Validated identifiers: AWS account ids, region names and their partitions; and the one helper that shortens
//! untrusted values for messages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A 12-digit AWS account id, validated on construction. Twelve bytes, no allocation: an organization of 10,000
/// accounts is held in every region without copying strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId([u8; 12]);

/// Why a string is not an account id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an AWS account id (12 digits)")]
pub struct InvalidAccountId {
    /// The rejected value, shortened when it is long.
    pub value: String,
}

impl AccountId {
    /// A placeholder for a required id not read yet (never reported: a missing admin is a configuration error).
    pub(crate) const UNSET: Self = Self(*b"000000000000");

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored (see `from_str`), so this is always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for AccountId {
    type Err = InvalidAccountId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match <[u8; 12]>::try_from(s.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_digit) => Ok(Self(bytes)),
            _ => Err(InvalidAccountId { value: shorten(s, 64) }),
        }
    }
}

impl TryFrom<String> for AccountId {
    type Error = InvalidAccountId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> Self {
        id.as_str().to_owned()
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `s` has the shape of an AWS region name in any partition: `us-east-1`, `ap-southeast-4`,
/// `us-gov-west-1`, `cn-north-1`, `us-iso-east-1`, `us-isob-east-1`, `eu-isoe-west-1`, `us-isof-south-1`,
/// `eusc-de-east-1`.
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    (3..=4).contains(&parts.len())
        && (2..=4).contains(&parts[0].len())
        && parts[..parts.len() - 1].iter().all(lower)
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// The partition that holds `region`, from its prefix (as the SDK's partition table matches them):
/// `aws-cn`, `aws-us-gov`, the isolated `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, the European Sovereign
/// Cloud `aws-eusc`, and `aws` for every other region.
pub(crate) fn partition_of(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 7] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-iso-", "aws-iso"),
        ("us-isob-", "aws-iso-b"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, partition)| partition)
}

/// A value for a message: at most `max` characters, with the rest elided.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}…")
    }
}

/// A short column name for a region, after the convention of Availability Zone ids: `us-east-1` is `use1`,
/// `ap-southeast-2` is `apse2`, `us-gov-west-1` is `usgovw1`.
pub fn short_region(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, rest)) = parts.split_last() else { return region.to_owned() };
    let mut out = String::new();
    for (i, part) in rest.iter().enumerate() {
        let direction = match *part {
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "central" => "c",
            "northeast" => "ne",
            "southeast" => "se",
            "northwest" => "nw",
            "southwest" => "sw",
            other => other,
        };
        out.push_str(if i == 0 { part } else { direction });
    }
    out.push_str(number);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_exactly_twelve_digits() {
        let id: AccountId = "123456789012".parse().expect("valid");
        assert_eq!(id.as_str(), "123456789012");
        assert_eq!(id.to_string(), "123456789012");
        for bad in ["", "12345678901", "1234567890123", "12345678901a", " 123456789012", "１２３４５６７８９０１２"]
        {
            assert!(bad.parse::<AccountId>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn account_ids_round_trip_through_json_as_strings() {
        let id: AccountId = serde_json::from_str("\"444455556666\"").expect("parse");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"444455556666\"");
        assert!(serde_json::from_str::<AccountId>("\"4444\"").is_err());
    }

    #[test]
    fn long_rejected_values_are_shortened_in_the_error() {
        let err = "9".repeat(10_000).parse::<AccountId>().unwrap_err();
        assert!(err.to_string().len() < 160 && err.to_string().contains('…'), "{err}");
    }

    #[test]
    fn region_names_of_every_partition_are_recognised() {
        for good in [
            "us-east-1",
            "ap-southeast-4",
            "us-gov-west-1",
            "eu-central-2",
            "il-central-1",
            "cn-northwest-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "us-isof-south-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region_name(good), "{good} rejected");
        }
        for bad in
            ["", "useast1", "us-east", "US-EAST-1", "us-east-1 ", "us--1", "us-east-x", "europe-west-1", "u-east-1"]
        {
            assert!(!is_region_name(bad), "{bad} accepted");
        }
    }

    #[test]
    fn partitions_follow_the_region_prefix() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
            ("eu-south-2", "aws"),
        ] {
            assert_eq!(partition_of(region), partition, "{region}");
        }
    }

    #[test]
    fn shorten_keeps_short_values_and_cuts_long_ones() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
