//! The system-test harness: starts a private instance of the local AWS emulator per test, seeds organizations and
//! regions through its control endpoints, and reads back its request log and GuardDuty state; serves event
//! fixtures; stands in for CloudFormation's ResponseURL and for the Lambda Runtime API; opens a page in headless
//! Chromium.

pub mod browser;
pub mod runtime;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_guardduty::config::Credentials;
use bootstrapper::{Bootstrapper, Environment, ResponseSender};
use enablement::{AccountId, AwsCloud, Enabler, Patience, RetryPolicy, Settings};
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
    /// When the emulator received it, in seconds since the epoch.
    pub time: f64,
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
        Self { child, url }
    }

    /// A control request; returns the JSON answer.
    pub fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .expect("a control request");
        let mut answer = agent.run(request).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = answer.status();
        let text = answer.body_mut().read_to_string().expect("the emulator's answer");
        assert!(status.is_success(), "{method} {path}: {status}\n{text}");
        serde_json::from_str(&text).expect("JSON from the emulator")
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

    /// Sets how the emulated AWS behaves where AWS varies (plans per region, GuardDuty's timing; see world.py).
    pub fn world(&self, spec: Value) {
        self.control("POST", "/_emulator/world", &spec);
    }

    /// Writes member records of `admin` in `region` as they are (account id to RelationshipStatus).
    pub fn seed_members(&self, region: &str, admin: &AccountId, members: &[(&AccountId, &str)]) {
        let members: serde_json::Map<String, Value> = members.iter().map(|(a, s)| (a.to_string(), json!(s))).collect();
        self.control("POST", "/_emulator/members", &json!({"region": region, "admin": admin, "members": members}));
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
                time: e["time"].as_f64().unwrap_or_default(),
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
        enablement::sdk_config_loader()
            .endpoint_url(&self.url)
            .region("us-east-1")
            .credentials_provider(Credentials::new("testing", "testing", None, None, "emulator"))
            .load()
            .await
    }

    /// GuardDuty in `region` as the admin account, through sts:AssumeRole as the functions reach it.
    pub async fn admin_guardduty(&self, admin: &AccountId, region: &str) -> aws_sdk_guardduty::Client {
        let base = self.sdk_config().await;
        let role = format!("arn:aws:iam::{admin}:role/{}", enablement::DEFAULT_ADMIN_ROLE_NAME);
        let provider =
            aws_config::sts::AssumeRoleProvider::builder(role).session_name("tests").configure(&base).build().await;
        let conf = aws_sdk_guardduty::config::Builder::from(&base)
            .credentials_provider(provider)
            .region(aws_sdk_guardduty::config::Region::new(region.to_owned()))
            .build();
        aws_sdk_guardduty::Client::from_conf(conf)
    }

    /// Creates an account through Organizations' CreateAccount; returns its id and the request id.
    pub async fn create_account(&self, name: &str) -> (AccountId, String) {
        let orgs = aws_sdk_organizations::Client::new(&self.sdk_config().await);
        let out = orgs
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("CreateAccount");
        let status = out.create_account_status().expect("status");
        let request = status.id().expect("request id").to_owned();
        // While a creation is in progress AWS gives no account id yet; the emulator's state says which it will be.
        let id = match status.account_id() {
            Some(id) => id.to_owned(),
            None => self.state()["create_requests"][&request].as_str().expect("a requested account").to_owned(),
        };
        (id.parse().expect("valid id"), request)
    }

    /// An enabler for `settings` against this emulator, with short retry backoffs and waits.
    pub async fn enabler(&self, settings: Settings) -> Enabler<AwsCloud> {
        self.enabler_with(settings, FAST_RETRIES).await
    }

    /// An enabler for `settings` against this emulator, with the given retry policy.
    pub async fn enabler_with(&self, settings: Settings, retry: RetryPolicy) -> Enabler<AwsCloud> {
        connect(self.sdk_config().await, settings, retry).await
    }

    /// The bootstrapper function over this emulator, with `vars` as its environment (the admin among them).
    pub async fn bootstrapper(&self, vars: &[(&str, &str)]) -> Bootstrapper<AwsCloud> {
        let map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let base = self.sdk_config().await;
        let env = Environment {
            lookup: Arc::new(move |name| map.get(name).cloned()),
            keep: bootstrapper::in_s3(base.clone()),
            connect: Arc::new(move |settings| {
                let base = base.clone();
                Box::pin(async move { connect(base, settings, FAST_RETRIES).await })
            }),
        };
        Bootstrapper::new(env, ResponseSender::new().expect("sender")).await
    }
}

/// The table of tamper repairs in `emulator`, as the template makes it (`TamperLedgerTable`: partition key `id`, a
/// string, billed per request): its name.
pub async fn ledger_table(emulator: &Emulator) -> &'static str {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    const TABLE: &str = "guardduty-enabler-tamper-repairs";
    let key = AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build();
    let schema = KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build();
    aws_sdk_dynamodb::Client::new(&emulator.sdk_config().await)
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(key.expect("attribute"))
        .key_schema(schema.expect("key"))
        .send()
        .await
        .expect("CreateTable");
    TABLE
}

/// The bootstrapper over `emulator` with `admin` and `vars` as its environment, as its schedule and region opt-in
/// events invoke it.
pub async fn reconciler(emulator: &Emulator, admin: &AccountId, vars: &[(&str, &str)]) -> Bootstrapper<AwsCloud> {
    let admin = admin.to_string();
    let mut all = vec![("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    all.extend_from_slice(vars);
    emulator.bootstrapper(&all).await
}

/// The bootstrapper's scheduled full reconcile (the `scheduled-event.json` fixture), with `admin` and `vars` as its
/// environment: its answer.
pub async fn schedule(
    emulator: &Emulator,
    admin: &AccountId,
    vars: &[(&str, &str)],
) -> Result<Value, enablement::Failure> {
    reconciler(emulator, admin, vars).await.handle(event(fixture("scheduled-event.json", &[]))).await
}

/// Short backoffs, for tests: ten attempts from 20 ms to half a second, a settling window of 30 s.
pub const FAST_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 10,
    initial_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(500),
    settling_window: Duration::from_secs(30),
};

/// Short waits for members to show, for tests.
pub const FAST_PATIENCE: Patience = Patience {
    first: Duration::from_millis(50),
    longest: Duration::from_millis(400),
    total: Duration::from_secs(10),
    policy_type: Duration::from_secs(10),
};

async fn connect(base: SdkConfig, settings: Settings, retry: RetryPolicy) -> Enabler<AwsCloud> {
    let cloud = AwsCloud::connect(&base, &settings, retry).await;
    Enabler::new(cloud, settings).with_patience(FAST_PATIENCE)
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

/// Enables the GuardDuty policy type at the organization's root, as the security team would, and waits until
/// ListRoots shows it ENABLED: enabling is asynchronous, and Organizations refuses AttachPolicy until then.
pub async fn enable_guardduty_policy_type(orgs: &aws_sdk_organizations::Client) {
    use aws_sdk_organizations::types::{PolicyType, PolicyTypeStatus};
    let roots = orgs.list_roots().send().await.expect("ListRoots");
    let root = roots.roots()[0].clone();
    let status = |root: &aws_sdk_organizations::types::Root| {
        root.policy_types()
            .iter()
            .find(|t| t.r#type() == Some(&PolicyType::GuarddutyPolicy))
            .and_then(|t| t.status().cloned())
    };
    if status(&root).is_none() {
        orgs.enable_policy_type()
            .root_id(root.id().expect("root id"))
            .policy_type(PolicyType::GuarddutyPolicy)
            .send()
            .await
            .expect("EnablePolicyType");
    }
    for _ in 0..100 {
        let roots = orgs.list_roots().send().await.expect("ListRoots");
        if status(&roots.roots()[0]) == Some(PolicyTypeStatus::Enabled) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the GuardDuty policy type did not show ENABLED within 10 s");
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

/// How many dependent round trips a log shows, with `latency` injected per call: calls that arrive together (within
/// half the latency of the first of their wave) are one round trip.
pub fn round_trips(calls: &[Call], latency: Duration) -> usize {
    waves(calls, latency).len()
}

/// The calls of a log grouped into dependent round trips (see [`round_trips`]): per wave, each operation with how
/// many calls of it.
pub fn waves(calls: &[Call], latency: Duration) -> Vec<BTreeMap<String, usize>> {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by(|a, b| a.time.total_cmp(&b.time));
    let half = latency.as_secs_f64() / 2.0;
    let mut waves: Vec<BTreeMap<String, usize>> = Vec::new();
    let mut wave_start = f64::NEG_INFINITY;
    for call in sorted {
        if call.time - wave_start > half {
            waves.push(BTreeMap::new());
            wave_start = call.time;
        }
        if let Some(wave) = waves.last_mut() {
            *wave.entry(call.operation.clone()).or_default() += 1;
        }
    }
    waves
}

/// Polls `check` every 50 ms until it holds or `within` has passed; whether it held.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// What a run of the command line gave: its exit code, stdout and stderr.
#[derive(Debug)]
pub struct Ran {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the `guardduty-enabler` command line against `emulator`, as the management account, with `env` on top of a
/// clean environment.
pub fn cli(emulator: &Emulator, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let out = Command::new(runtime::debug_binary("guardduty-enabler"))
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL", &emulator.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .envs(env.iter().copied())
        .output()
        .expect("run guardduty-enabler");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A custom-resource request fixture (`cfn-create.json`, ...) answering to `url`, for the organization's admin.
pub fn cfn_request(name: &str, url: &str, admin: &AccountId) -> Value {
    fixture(name, &[("http://127.0.0.1:1/response", url), ("222233334444", admin.as_str())])
}

/// Settings with the admin and the given extra variables.
pub fn settings(admin: &AccountId, vars: &[(&str, &str)]) -> Settings {
    let mut map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.insert("GUARDDUTY_ADMIN_ACCOUNT_ID".into(), admin.to_string());
    Settings::from_lookup(|k| map.get(k).cloned()).expect("valid settings")
}

/// An event fixture from `tests/events/`, with each `(from, to)` substitution applied to its text.
pub fn fixture(name: &str, substitutions: &[(&str, &str)]) -> Value {
    let mut text = std::fs::read_to_string(root().join("tests/events").join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    for (from, to) in substitutions {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A local HTTP server standing in for CloudFormation's pre-signed ResponseURL: it records every request.
pub struct ResponseCatcher {
    /// The URL to give as ResponseURL.
    pub url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
}

impl ResponseCatcher {
    /// Starts listening on a free loopback port.
    pub fn start() -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let address = server.server_addr().to_ip().expect("an IP address");
        let url = format!("http://{address}/cfn-response?X-Amz-Signature=example");
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let content_type = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map_or_else(|| "(none)".to_owned(), |h| h.value.as_str().to_owned());
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                sink.lock().expect("sink").push((request.method().as_str().to_owned(), content_type, json));
                let _ = request.respond(tiny_http::Response::empty(200));
            }
        });
        Self { url, received }
    }

    /// Every request so far: method, content type and JSON body.
    pub fn received(&self) -> Vec<(String, String, Value)> {
        self.received.lock().expect("received").clone()
    }
}

/// The fixture names of one kind in `tests/events/index.json` (onboarding, region, schedule, ignored,
/// custom_resource): the one list the Rust and the template tests share.
pub fn fixtures_of(kind: &str) -> Vec<String> {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/events/index.json")).expect("index"))
            .expect("index JSON");
    index[kind]
        .as_array()
        .unwrap_or_else(|| panic!("no fixture kind {kind}"))
        .iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect()
}

/// A Lambda invocation of `payload` with a default context (no deadline), as the handlers take it.
pub fn event(payload: Value) -> lambda_runtime::LambdaEvent<Value> {
    lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// An SQS batch as the responder's event source mapping delivers it, one record per `(message id, body)`, from the
/// record of `tests/events/sqs-account-events.json`: each body is an EventBridge event (as JSON text on the queue).
pub fn sqs_batch(records: &[(String, Value)]) -> Value {
    let template = fixture("sqs-account-events.json", &[]);
    let record = template["Records"][0].clone();
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            let mut r = record.clone();
            r["messageId"] = Value::String(id.clone());
            r["body"] = Value::String(match body {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            });
            r
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// An emulator whose default regions are `regions` (no opt-in ones) and an organization of `accounts` members
/// besides the management account, its first account the admin the tests configure.
pub fn world_of(regions: &[&str], accounts: usize) -> (Emulator, Org) {
    let emulator = Emulator::start();
    emulator.regions(serde_json::json!({"default": regions, "opt_in": []}));
    let org = emulator.organization(accounts, 0);
    (emulator, org)
}

/// SDK configuration acting as `admin` through the admin role, as the functions reach it.
pub async fn admin_sdk_config(emulator: &Emulator, admin: &AccountId) -> SdkConfig {
    let base = emulator.sdk_config().await;
    let role = format!("arn:aws:iam::{admin}:role/{}", enablement::DEFAULT_ADMIN_ROLE_NAME);
    let provider =
        aws_config::sts::AssumeRoleProvider::builder(role).session_name("tests").configure(&base).build().await;
    base.to_builder().credentials_provider(aws_sdk_guardduty::config::SharedCredentialsProvider::new(provider)).build()
}

/// Creates a trail named `name` in us-east-1 as the account of `config` (its bucket first, as CloudTrail requires)
/// and starts its logging: a multi-region one when `multi_region`, an organization trail when `organization`.
pub async fn logging_trail(config: &SdkConfig, name: &str, multi_region: bool, organization: bool) {
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build());
    let bucket = format!("{name}-trail-logs");
    s3.create_bucket().bucket(&bucket).send().await.expect("CreateBucket");
    let trails = aws_sdk_cloudtrail::Client::new(config);
    trails
        .create_trail()
        .name(name)
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(multi_region)
        .is_organization_trail(organization)
        .send()
        .await
        .expect("CreateTrail");
    trails.start_logging().name(name).send().await.expect("StartLogging");
}

/// The event pattern of `resource` in `infra/<template>`, as JSON text.
pub fn template_pattern(template: &str, resource: &str) -> String {
    let text = std::fs::read_to_string(root().join("infra").join(template)).expect("template");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let pattern = &doc["Resources"][resource]["Properties"]["EventPattern"];
    assert!(pattern.is_mapping(), "{template} has no {resource} with an EventPattern");
    serde_json::to_value(pattern).expect("a JSON pattern").to_string()
}

/// Creates the management account's tamper rules in us-east-1 as `infra/template.yaml` defines them, under names of
/// the kind CloudFormation generates; returns them as the template passes them (`TAMPER_RULE_NAMES`).
pub async fn tamper_rules(emulator: &Emulator) -> String {
    let events = aws_sdk_eventbridge::Client::new(&emulator.sdk_config().await);
    let mut names = Vec::new();
    for resource in ["GuardDutyTamperRule", "OrganizationsTamperRule"] {
        let name = format!("guardduty-enabler-{resource}-1A2B3C4D5E6F");
        events
            .put_rule()
            .name(&name)
            .event_pattern(template_pattern("template.yaml", resource))
            .send()
            .await
            .expect("PutRule");
        names.push(name);
    }
    names.join(",")
}

/// Creates, as `admin`, infra/admin-role.yaml's GuardDuty forwarder in each of `regions` (and its region opt-in
/// forwarder in us-east-1), sending to `management`'s default bus in us-east-1, as its StackSet's instances do;
/// returns the forwarders' names by region.
pub async fn tamper_forwarders(
    emulator: &Emulator,
    admin: &AccountId,
    management: &AccountId,
    regions: &[&str],
) -> BTreeMap<String, String> {
    let config = admin_sdk_config(emulator, admin).await;
    let bus = format!("arn:aws:events:us-east-1:{management}:event-bus/default");
    let role = format!("arn:aws:iam::{admin}:role/admin-role-RegionOptInForwarderRole-1A2B3C");
    let mut names = BTreeMap::new();
    let mut rules: Vec<(&str, &str)> = regions.iter().map(|r| (*r, "GuardDutyTamperForwarder")).collect();
    rules.push(("us-east-1", "RegionOptInForwarder"));
    for (region, resource) in rules {
        let conf = aws_sdk_eventbridge::config::Builder::from(&config)
            .region(aws_sdk_eventbridge::config::Region::new(region.to_owned()))
            .build();
        let events = aws_sdk_eventbridge::Client::from_conf(conf);
        let name = format!("StackSet-guardduty-enabler-admin-role-{resource}-{region}");
        events
            .put_rule()
            .name(&name)
            .event_pattern(template_pattern("admin-role.yaml", resource))
            .send()
            .await
            .expect("PutRule");
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("management-default-bus")
            .arn(&bus)
            .role_arn(&role)
            .build()
            .expect("a target");
        events.put_targets().rule(&name).targets(target).send().await.expect("PutTargets");
        if resource == "GuardDutyTamperForwarder" {
            names.insert(region.to_owned(), name);
        }
    }
    names
}
