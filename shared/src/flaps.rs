//! The count of tamper repairs, shared by every process that repairs: a key (the account a call was made in, its
//! region or `*` for the whole organization, and the repair's kind) repaired [`LIMIT`] times within [`WINDOW`] is
//! not repaired again; it is held, and `TamperFlapping` raised, until a scheduled run finds it stable (its region
//! in sync, nothing written) and releases it ([`settle`]).
//!
//! The count lives where every responder process sees it: a DynamoDB table ([`Ledger::table`], feature `ledger`),
//! one item per key holding the times of its last [`LIMIT`] repairs. One conditional UpdateItem admits a repair and
//! records it, or refuses it, atomically; two processes can never both take the last place in the window. Without a
//! table, [`Ledger::in_process`] counts in the process alone (the command line, and tests).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::ids::AccountId;
use crate::report::{Outcome, Report};

/// The variable that names the table (set by the template for both functions).
pub const VARIABLE: &str = "TAMPER_LEDGER";

/// The most repairs of one key within [`WINDOW`].
pub const LIMIT: usize = 3;
/// The window repairs are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// What repairs are counted by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Key {
    /// The account the call was made in.
    pub account: AccountId,
    /// The region repaired, or `*` for a repair of the whole organization.
    pub region: String,
    /// The repair's kind (`members`, `foundation`, `revert`, ...).
    pub kind: String,
}

impl Key {
    /// The key of a repair of `kind` in `region` (`None`: the whole organization).
    pub fn new(account: AccountId, region: Option<&str>, kind: &str) -> Self {
        Self { account, region: region.unwrap_or("*").to_owned(), kind: kind.to_owned() }
    }

    /// Its item's id: `account/region/kind`.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.kind)
    }

    /// The key an item's id names.
    pub fn parse(id: &str) -> Option<Self> {
        let mut parts = id.splitn(3, '/');
        let account = parts.next()?.parse().ok()?;
        let region = parts.next().filter(|r| !r.is_empty())?.to_owned();
        let kind = parts.next().filter(|k| !k.is_empty())?.to_owned();
        Some(Self { account, region, kind })
    }
}

/// One key's record: the times of its last [`LIMIT`] repairs, oldest first (0 where there were fewer), and since
/// when it is held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Record {
    times: [i64; LIMIT],
    held: Option<i64>,
}

impl Record {
    /// Whether one more repair at `now_ms` stays within the limit: the key is not held, and the oldest of the last
    /// [`LIMIT`] repairs is older than the window.
    fn admits(&self, now_ms: i64) -> bool {
        self.held.is_none() && self.times[0] < now_ms - window_ms()
    }

    fn record(&mut self, now_ms: i64) {
        self.times.rotate_left(1);
        self.times[LIMIT - 1] = now_ms;
    }
}

fn window_ms() -> i64 {
    WINDOW.as_millis() as i64
}

/// Where repairs are counted.
pub struct Ledger {
    store: Store,
}

enum Store {
    Process(Mutex<BTreeMap<Key, Record>>),
    #[cfg(feature = "ledger")]
    Table(crate::aws::LedgerTable),
}

impl Ledger {
    /// A count kept in this process only: processes that run at once, and a cold start, do not share it.
    pub fn in_process() -> Self {
        Self { store: Store::Process(Mutex::default()) }
    }

    /// The count in the DynamoDB table `name` (partition key `id`, a string), shared by every process, called with
    /// `conf`'s credentials in its region.
    #[cfg(feature = "ledger")]
    pub fn table(conf: &aws_config::SdkConfig, name: &str) -> Self {
        Self { store: Store::Table(crate::aws::LedgerTable::new(conf, name)) }
    }

    /// The count in the table `name` names ([`VARIABLE`]'s value), called with `conf`'s credentials; without a
    /// name (unset, or blank), a count of this process alone.
    #[cfg(feature = "ledger")]
    pub fn named(conf: &aws_config::SdkConfig, name: Option<&str>) -> Self {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(table) => Self::table(conf, table),
            None => Self::in_process(),
        }
    }

    /// Whether every process shares this count.
    pub fn is_shared(&self) -> bool {
        !matches!(self.store, Store::Process(_))
    }

    /// Counts a repair of `key` at `now_ms` (milliseconds since the epoch) and answers `true`, unless the key is
    /// held or [`LIMIT`] repairs were made within the window before it: then the key is held (until a scheduled run
    /// releases it) and the answer is `false`.
    pub async fn admit(&self, key: &Key, now_ms: i64) -> Result<bool, Error> {
        match &self.store {
            Store::Process(records) => {
                let mut records = records.lock().unwrap_or_else(|e| e.into_inner());
                let record = records.entry(key.clone()).or_default();
                if record.admits(now_ms) {
                    record.record(now_ms);
                    return Ok(true);
                }
                record.held.get_or_insert(now_ms);
                Ok(false)
            }
            #[cfg(feature = "ledger")]
            Store::Table(table) => {
                if table.admit(&key.id(), now_ms, now_ms - window_ms(), WINDOW.as_secs() as i64).await? {
                    return Ok(true);
                }
                table.hold(&key.id(), now_ms).await?;
                Ok(false)
            }
        }
    }

    /// The keys held.
    pub async fn held(&self) -> Result<Vec<Key>, Error> {
        match &self.store {
            Store::Process(records) => {
                let records = records.lock().unwrap_or_else(|e| e.into_inner());
                Ok(records.iter().filter(|(_, r)| r.held.is_some()).map(|(k, _)| k.clone()).collect())
            }
            #[cfg(feature = "ledger")]
            Store::Table(table) => {
                let ids = table.held().await?;
                Ok(ids.iter().filter_map(|id| Key::parse(id)).collect())
            }
        }
    }

    /// Forgets `key`: it is repaired again, counted from none.
    pub async fn release(&self, key: &Key) -> Result<(), Error> {
        match &self.store {
            Store::Process(records) => {
                records.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
                Ok(())
            }
            #[cfg(feature = "ledger")]
            Store::Table(table) => table.release(&key.id()).await,
        }
    }
}

/// Whether a scheduled run's `report` finds `key` stable: its region in sync (nothing written, everything as
/// declared), or no longer governed; for the whole organization, every region in sync and nothing written
/// organization-wide.
pub fn stable(report: &Report, key: &Key) -> bool {
    if key.region == "*" {
        return report.regions.iter().all(|r| r.outcome == Outcome::InSync) && report.organization.is_empty();
    }
    report.regions.iter().find(|r| r.region == key.region).is_none_or(|r| r.outcome == Outcome::InSync)
}

/// What a scheduled run did with the held keys.
#[derive(Debug, Default, Serialize)]
pub struct Settled {
    /// Found stable and released.
    pub released: Vec<Key>,
    /// Still held: `TamperFlapping` stays raised.
    pub held: Vec<Key>,
    /// What could not be read or released.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

/// Releases the held keys a scheduled run's `report` finds stable (see [`stable`]); a dry run's report releases
/// none.
pub async fn settle(ledger: &Ledger, report: &Report) -> Settled {
    let mut settled = Settled::default();
    let held = match ledger.held().await {
        Ok(held) => held,
        Err(e) => {
            settled.failed.push(e.to_string());
            return settled;
        }
    };
    for key in held {
        if report.dry_run || !stable(report, &key) {
            settled.held.push(key);
            continue;
        }
        match ledger.release(&key).await {
            Ok(()) => settled.released.push(key),
            Err(e) => {
                settled.failed.push(format!("{}: {e}", key.id()));
                settled.held.push(key);
            }
        }
    }
    settled
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const START: i64 = 1_800_000_000_000;

    fn key(region: &str) -> Key {
        Key::new("111122223333".parse().expect("id"), Some(region), "members")
    }

    #[tokio::test]
    async fn a_key_is_repaired_three_times_in_fifteen_minutes_then_held_until_released() {
        // given a ledger
        let ledger = Ledger::in_process();
        // when a key is repaired at minutes 0, 1 and 2, the three are admitted and the fourth is not
        for minute in [0, 1, 2] {
            assert!(ledger.admit(&key("eu-west-1"), START + minute * MINUTE).await.expect("admit"));
        }
        assert!(!ledger.admit(&key("eu-west-1"), START + 3 * MINUTE).await.expect("admit"));
        // another key is counted apart
        assert!(ledger.admit(&key("us-east-1"), START).await.expect("admit"));
        // then it stays held after the window has passed, until released
        assert!(!ledger.admit(&key("eu-west-1"), START + 20 * MINUTE).await.expect("admit"));
        assert_eq!(ledger.held().await.expect("held"), vec![key("eu-west-1")]);
        ledger.release(&key("eu-west-1")).await.expect("release");
        assert!(ledger.admit(&key("eu-west-1"), START + 21 * MINUTE).await.expect("admit"));
    }

    #[tokio::test]
    async fn the_window_slides_the_fourth_repair_is_admitted_once_the_first_is_older_than_fifteen_minutes() {
        let ledger = Ledger::in_process();
        for minute in [0, 10, 12] {
            assert!(ledger.admit(&key("eu-west-1"), START + minute * MINUTE).await.expect("admit"));
        }
        assert!(ledger.admit(&key("eu-west-1"), START + 15 * MINUTE + 1).await.expect("admit"));
        // 10, 12 and 15 are within 15 minutes of 16
        assert!(!ledger.admit(&key("eu-west-1"), START + 16 * MINUTE).await.expect("admit"));
    }

    #[test]
    fn a_key_reads_back_from_its_id_and_a_malformed_id_is_none() {
        let k = Key::new("111122223333".parse().expect("id"), None, "organization");
        assert_eq!(k.id(), "111122223333/*/organization");
        assert_eq!(Key::parse(&k.id()), Some(k));
        assert_eq!(Key::parse("111122223333/eu-west-1"), None);
        assert_eq!(Key::parse("not-an-account/eu-west-1/members"), None);
    }
}
