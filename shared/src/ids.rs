//! Validated identifiers: AWS account ids and region names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A 12-digit AWS account id, validated on construction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

/// Why a string is not an account id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an AWS account id (12 digits)")]
pub struct InvalidAccountId {
    /// The rejected value, shortened when it is long.
    pub value: String,
}

impl AccountId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = InvalidAccountId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidAccountId { value: shorten(s) })
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
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` has the shape of an AWS region name (`us-east-1`, `ap-southeast-4`, `us-gov-west-1`).
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// The partition that holds `region` (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A value for an error message: at most 64 characters, with the rest elided.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_exactly_twelve_digits() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        for bad in ["", "12345678901", "1234567890123", "12345678901a", " 123456789012", "１２３４５６７８９０１２"]
        {
            assert!(bad.parse::<AccountId>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn long_rejected_values_are_shortened_in_the_error() {
        let err = "9".repeat(10_000).parse::<AccountId>().unwrap_err();
        assert!(err.to_string().len() < 160 && err.to_string().contains('…'), "{err}");
    }

    #[test]
    fn region_names_are_recognised() {
        for good in ["us-east-1", "ap-southeast-4", "us-gov-west-1", "eu-central-2", "il-central-1"] {
            assert!(is_region_name(good), "{good} rejected");
        }
        for bad in ["", "useast1", "us-east", "US-EAST-1", "us-east-1 ", "us--1", "us-east-x"] {
            assert!(!is_region_name(bad), "{bad} accepted");
        }
    }

    #[test]
    fn partitions_follow_the_region_prefix() {
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
    }
}
