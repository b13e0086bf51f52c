//! A local Lambda Runtime API (the `2018-06-01` interface a function's runtime client polls), so that the real
//! function binaries can be run and invoked as Lambda runs them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How an invocation ended: the function's response, or its error document.
pub type Invocation = Result<Value, Value>;

struct Shared {
    next: Mutex<Receiver<(String, Value, u64)>>,
    results: Mutex<HashMap<String, Sender<Invocation>>>,
    first_poll: (Mutex<Option<std::time::Instant>>, std::sync::Condvar),
}

/// A runtime API on a free loopback port, serving the events given to [`RuntimeApi::invoke`].
pub struct RuntimeApi {
    /// host:port, for AWS_LAMBDA_RUNTIME_API.
    pub address: String,
    queue: Sender<(String, Value, u64)>,
    shared: Arc<Shared>,
    counter: Mutex<u64>,
}

impl RuntimeApi {
    /// Starts serving.
    pub fn start() -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind the runtime API");
        let address = server.server_addr().to_ip().expect("an IP address").to_string();
        let (queue, next) = channel();
        let shared = Arc::new(Shared {
            next: Mutex::new(next),
            results: Mutex::new(HashMap::new()),
            first_poll: (Mutex::new(None), std::sync::Condvar::new()),
        });
        let serving = shared.clone();
        thread::spawn(move || {
            // Each request on a thread of its own: a poll for the next event waits until there is one.
            for request in server.incoming_requests() {
                let shared = serving.clone();
                thread::spawn(move || serve(request, &shared));
            }
        });
        Self { address, queue, shared, counter: Mutex::new(0) }
    }

    /// When a function first asked for an event (it is ready), waiting up to `timeout` for that.
    pub fn first_poll(&self, timeout: Duration) -> Option<std::time::Instant> {
        let (lock, ready) = &self.shared.first_poll;
        let guard = lock.lock().expect("first poll");
        let (guard, _) = ready.wait_timeout_while(guard, timeout, |at| at.is_none()).expect("first poll");
        *guard
    }

    /// Delivers `event` with `timeout` as the invocation's deadline and waits (a little past it) for the answer.
    pub fn invoke(&self, event: &Value, timeout: Duration) -> Invocation {
        let id = {
            let mut n = self.counter.lock().expect("counter");
            *n += 1;
            format!("00000000-0000-4000-8000-{:012}", *n)
        };
        let (tx, rx) = channel();
        self.shared.results.lock().expect("results").insert(id.clone(), tx);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
        self.queue.send((id, event.clone(), now + timeout.as_millis() as u64)).expect("queue the event");
        rx.recv_timeout(timeout + Duration::from_secs(5)).expect("the function answered")
    }
}

/// Answers one request of the runtime API: the next event (once there is one), or an invocation's response or error.
fn serve(mut request: tiny_http::Request, shared: &Shared) {
    let (method, path) = (request.method().clone(), request.url().to_owned());
    let mut body = Vec::new();
    if request.as_reader().read_to_end(&mut body).is_err() {
        return;
    }
    let accepted = || tiny_http::Response::from_string("{}").with_status_code(202);
    if method == tiny_http::Method::Get && path.ends_with("/runtime/invocation/next") {
        {
            let (lock, ready) = &shared.first_poll;
            let mut at = lock.lock().expect("first poll");
            at.get_or_insert_with(std::time::Instant::now);
            ready.notify_all();
        }
        let next = shared.next.lock().expect("queue").recv();
        let Ok((id, event, deadline)) = next else { return };
        let headers = [
            ("Content-Type", "application/json".to_owned()),
            ("Lambda-Runtime-Aws-Request-Id", id),
            ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:under-test".into()),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0".into()),
        ];
        let mut response = tiny_http::Response::from_string(event.to_string());
        for (name, value) in headers {
            response.add_header(tiny_http::Header::from_bytes(name, value).expect("a header"));
        }
        let _ = request.respond(response);
    } else if method == tiny_http::Method::Post && (path.ends_with("/response") || path.ends_with("/error")) {
        let id = path.split('/').nth(4).unwrap_or_default().to_owned();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let result = if path.ends_with("/response") { Ok(body) } else { Err(body) };
        if let Some(tx) = shared.results.lock().expect("results").remove(&id) {
            let _ = tx.send(result);
        }
        let _ = request.respond(accepted());
    } else {
        let _ = request.respond(accepted());
    }
}

/// This workspace's debug binary `name` (the functions', the command line's), built first if need be.
pub fn debug_binary(name: &str) -> std::path::PathBuf {
    build_functions();
    binaries().join(name)
}

/// The directory where Cargo puts this workspace's debug binaries.
fn binaries() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(Into::into).unwrap_or_else(|| crate::root().join("target"));
    target.join("debug")
}

/// Builds the function binaries once per test process (a no-op when they are up to date).
fn build_functions() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            // The same selection as `make test` (`cargo test --workspace --all-targets --features
            // system-tests/emulator`), so that dependencies resolve to the same features and nothing is rebuilt.
            .args(["build", "--quiet", "--workspace", "--all-targets", "--features", "system-tests/emulator"])
            .current_dir(crate::root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the functions failed");
    });
}

/// A function binary running against a [`RuntimeApi`], killed when dropped.
pub struct Function {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Function {
    /// Starts this workspace's debug binary `name` with the Lambda environment, `api` as its runtime API and `env`
    /// on top.
    pub fn start(name: &str, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        build_functions();
        Self::start_binary(&binaries().join(name), name, api, env)
    }

    /// Starts the executable at `path` as the function `name` (see [`Function::start`]).
    pub fn start_binary(path: &std::path::Path, name: &str, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(path);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]0000")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let streams: Vec<Box<dyn Read + Send>> =
            vec![Box::new(child.stdout.take().expect("stdout")), Box::new(child.stderr.take().expect("stderr"))];
        for stream in streams {
            let sink = output.clone();
            readers.push(thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = sink.lock().expect("output");
                    out.push_str(&line);
                    out.push('\n');
                }
            }));
        }
        Self { child, output, readers }
    }

    /// What the process has written so far (stdout and stderr, line by line).
    pub fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    /// Stops the process and returns everything it wrote (stdout, then stderr).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.output()
    }

    /// The process's peak resident memory so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
