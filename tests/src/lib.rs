//! The system-test harness: starts a private instance of the local AWS emulator per test, seeds organizations and
//! regions through its control endpoints, and reads back its request log and GuardDuty state.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_guardduty::config::Credentials;
use enablement::{AccountId, AwsCloud, Enabler, RetryPolicy, Settings};
use serde_json::{json, Value};

/// The project's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python interpreter that runs the emulator: EMULATOR_PYTHON, else the project's .venv, else python3.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("EMULATOR_PYTHON") {
        return p.into();
    }
    let venv = root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// A running emulator on a free loopback port, stopped when dropped.
pub struct Emulator {
    child: Child,
    /// Its base URL.
    pub url: String,
    addr: String,
}

/// An organization seeded in the emulator.
#[derive(Debug, Clone)]
pub struct Org {
    /// The management account (moto's default account, which the harness's credentials act as).
    pub management: AccountId,
    /// ACTIVE member accounts, in creation order.
    pub accounts: Vec<AccountId>,
    /// SUSPENDED accounts.
    pub suspended: Vec<AccountId>,
}

/// One line of the emulator's request log.
#[derive(Debug, Clone)]
pub struct Call {
    /// guardduty, organizations, account, sts, ...
    pub service: String,
    /// The API operation.
    pub operation: String,
    /// The calling account.
    pub account: String,
    /// The region of the call.
    pub region: String,
    /// read, write or auth.
    pub kind: String,
    /// The HTTP status.
    pub status: u16,
}

impl Emulator {
    /// Starts an emulator and waits until it answers.
    pub fn start() -> Self {
        let mut child = Command::new(python())
            .arg(root().join("tests/emulator/server.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator (is its Python environment set up? run `make venv`)");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("emulator banner");
        let url = line.trim().rsplit(' ').next().expect("emulator url").to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "unexpected emulator banner {line:?}");
        let addr = url.trim_start_matches("http://").to_owned();
        Self { child, url, addr }
    }

    /// A control request; returns the JSON answer.
    pub fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        let payload = body.to_string();
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the emulator");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            self.addr,
            payload.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{method} {path}: {head}\n{body}"
        );
        serde_json::from_str(body).expect("JSON from the emulator")
    }

    /// Creates an organization with `accounts` ACTIVE and `suspended` SUSPENDED member accounts.
    pub fn organization(&self, accounts: usize, suspended: usize) -> Org {
        let out =
            self.control("POST", "/_emulator/organization", &json!({"accounts": accounts, "suspended": suspended}));
        let ids = |v: &Value| -> Vec<AccountId> {
            v.as_array().expect("ids").iter().map(|i| i.as_str().expect("id").parse().expect("account id")).collect()
        };
        Org {
            management: out["management"].as_str().expect("management").parse().expect("account id"),
            accounts: ids(&out["accounts"]),
            suspended: ids(&out["suspended"]),
        }
    }

    /// Sets the region world (see the emulator's regions module).
    pub fn regions(&self, spec: Value) {
        self.control("POST", "/_emulator/regions", &spec);
    }

    /// Sets the fault switches.
    pub fn faults(&self, spec: Value) {
        self.control("POST", "/_emulator/faults", &spec);
    }

    /// The request log since the last clear.
    pub fn log(&self) -> Vec<Call> {
        let v = self.control("GET", "/_emulator/log", &json!({}));
        v.as_array()
            .expect("log")
            .iter()
            .map(|e| Call {
                service: e["service"].as_str().unwrap_or_default().into(),
                operation: e["operation"].as_str().unwrap_or_default().into(),
                account: e["account"].as_str().unwrap_or_default().into(),
                region: e["region"].as_str().unwrap_or_default().into(),
                kind: e["kind"].as_str().unwrap_or_default().into(),
                status: e["status"].as_u64().unwrap_or_default() as u16,
            })
            .collect()
    }

    /// Clears the request log.
    pub fn clear_log(&self) {
        self.control("DELETE", "/_emulator/log", &json!({}));
    }

    /// GuardDuty's whole state, as the emulator holds it.
    pub fn state(&self) -> Value {
        self.control("GET", "/_emulator/state", &json!({}))
    }

    /// SDK configuration acting as the management account, pointed at the emulator.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region("us-east-1")
            .credentials_provider(Credentials::new("testing", "testing", None, None, "emulator"))
            .load()
            .await
    }

    /// An enabler for `settings` against this emulator, with short retry backoffs.
    pub async fn enabler(&self, settings: Settings) -> Enabler<AwsCloud> {
        let retry = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(500),
        };
        let cloud = AwsCloud::connect(&self.sdk_config().await, &settings, retry).await;
        Enabler::new(cloud, settings)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts of a request log, by kind and by operation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Read calls (Get, List, Describe).
    pub reads: usize,
    /// Write calls.
    pub writes: usize,
    /// sts calls.
    pub auth: usize,
    /// Calls per operation.
    pub by_operation: BTreeMap<String, usize>,
}

/// Tallies the calls to AWS services (every service, STS apart as `auth`).
pub fn tally(calls: &[Call]) -> Tally {
    let mut t = Tally::default();
    for c in calls {
        match c.kind.as_str() {
            "read" => t.reads += 1,
            "write" => t.writes += 1,
            _ => t.auth += 1,
        }
        *t.by_operation.entry(format!("{}:{}", c.service, c.operation)).or_default() += 1;
    }
    t
}

/// The members of `admin` in `region` with their status, from the emulator's state.
pub fn members(state: &Value, region: &str) -> BTreeMap<String, String> {
    state["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter(|m| m["region"] == region)
        .map(|m| (m["account"].as_str().expect("account").to_owned(), m["status"].as_str().expect("status").to_owned()))
        .collect()
}

/// The detector of `account` in `region`, from the emulator's state.
pub fn detector<'a>(state: &'a Value, region: &str, account: &str) -> Option<&'a Value> {
    state["detectors"].as_array().expect("detectors").iter().find(|d| d["region"] == region && d["account"] == account)
}

/// Settings with the admin and the given extra variables.
pub fn settings(admin: &AccountId, vars: &[(&str, &str)]) -> Settings {
    let mut map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.insert("GUARDDUTY_ADMIN_ACCOUNT_ID".into(), admin.to_string());
    Settings::from_lookup(|k| map.get(k).cloned()).expect("valid settings")
}
