//! A page opened the way a person opens it: headless Chromium (Debian's `chromium`, or the binary CHROMIUM names),
//! driven over the Chrome DevTools Protocol on its remote-debugging port (a WebSocket, with `tungstenite`). It records every console message of level error (and every uncaught
//! exception), every network request the page makes, and a screenshot of the whole page.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// What opening a page showed.
#[derive(Debug, Default)]
pub struct Opened {
    /// Console errors and uncaught exceptions, as text.
    pub console_errors: Vec<String>,
    /// Every URL the page requested, itself apart.
    pub requests: Vec<String>,
    /// The whole page as a PNG.
    pub screenshot: Vec<u8>,
}

/// The Chromium binary: CHROMIUM, else `chromium` on the PATH.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "chromium".into())
}

/// Opens `page` (a local file) in a fresh headless Chromium, `width` pixels wide, and returns what it showed.
pub fn open(page: &Path, width: u32) -> Opened {
    let profile = std::env::temp_dir().join(format!("chromium-profile-{}-{}", std::process::id(), nanos()));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{} cannot be started ({e}): install Chromium (Debian and Ubuntu: `apt-get install chromium`; `make \
                 test` does it), or set CHROMIUM to a Chromium or Chrome binary",
                chromium().display()
            )
        });
    let endpoint = devtools_endpoint(&mut child);
    let opened = Session::connect(&endpoint).open(page, width);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&profile);
    opened
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// The browser's DevTools WebSocket URL, from the line Chromium writes on stderr; stderr is drained after it.
fn devtools_endpoint(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("chromium's stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let (false, Some(at)) = (sent, line.find("ws://")) {
                let _ = tx.send(line[at..].trim().to_owned());
                sent = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("Chromium announces its DevTools endpoint within a minute")
}

/// A CDP connection to the browser, with one page attached.
struct Session {
    ws: WebSocket,
    next: u64,
    session: Option<String>,
    events: Vec<Value>,
}

impl Session {
    fn connect(endpoint: &str) -> Self {
        Self { ws: WebSocket::connect(endpoint), next: 0, session: None, events: Vec::new() }
    }

    /// Sends a command (to the attached page once there is one) and waits for its answer, keeping the events that
    /// arrive meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let mut message = json!({"id": self.next, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.ws.send(&message.to_string());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "no answer to {method}");
            let answer: Value = serde_json::from_str(&self.ws.receive()).expect("CDP message");
            if answer["id"] == self.next {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
            self.events.push(answer);
        }
    }

    /// Waits until an event `method` arrives (or `limit` passes), keeping every event.
    fn wait_for(&mut self, method: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        while Instant::now() < deadline {
            let Some(text) = self.ws.receive_until(deadline) else { return };
            let event: Value = serde_json::from_str(&text).expect("CDP message");
            let done = event["method"] == method;
            self.events.push(event);
            if done {
                return;
            }
        }
    }

    fn open(mut self, page: &Path, width: u32) -> Opened {
        let target = self.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
        self.session = attached["sessionId"].as_str().map(str::to_owned);
        for domain in ["Runtime.enable", "Log.enable", "Network.enable", "Page.enable"] {
            self.call(domain, json!({}));
        }
        let metrics = json!({"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": false});
        self.call("Emulation.setDeviceMetricsOverride", metrics);
        self.events.clear();
        let url = format!("file://{}", page.canonicalize().expect("the page exists").display());
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("Page.loadEventFired", Duration::from_secs(60));
        // Late requests (a lazy image, a prefetch) have a moment to show.
        self.wait_for("Never.arrives", Duration::from_millis(750));
        let layout = self.call("Page.getLayoutMetrics", json!({}));
        let size = &layout["cssContentSize"];
        let clip = json!({"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1});
        let shot =
            self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true, "clip": clip}));
        let screenshot = base64(shot["data"].as_str().unwrap_or_default());
        let mut opened = Opened { screenshot, ..Opened::default() };
        for event in &self.events {
            let p = &event["params"];
            match event["method"].as_str().unwrap_or_default() {
                "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                    opened.console_errors.push(p["args"].to_string())
                }
                "Runtime.exceptionThrown" => opened.console_errors.push(p["exceptionDetails"].to_string()),
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    opened.console_errors.push(p["entry"].to_string())
                }
                "Network.requestWillBeSent" if p["request"]["url"] != url.as_str() => {
                    opened.requests.push(p["request"]["url"].as_str().unwrap_or_default().to_owned())
                }
                _ => {}
            }
        }
        opened
    }
}

/// Standard base64 (RFC 4648) to bytes; an undecodable text gives none.
fn base64(text: &str) -> Vec<u8> {
    data_encoding::BASE64.decode(text.as_bytes()).unwrap_or_default()
}

/// A WebSocket to DevTools: text messages out and in.
struct WebSocket(tungstenite::WebSocket<TcpStream>);

impl WebSocket {
    fn connect(url: &str) -> Self {
        let host = url.strip_prefix("ws://").and_then(|rest| rest.split('/').next()).expect("a ws:// URL");
        let stream = TcpStream::connect(host).expect("connect to DevTools");
        let (socket, _) = tungstenite::client(url, stream).expect("DevTools accepts the WebSocket");
        Self(socket)
    }

    fn send(&mut self, text: &str) {
        self.0.send(tungstenite::Message::text(text)).expect("send to DevTools");
    }

    /// The next text message.
    fn receive(&mut self) -> String {
        self.0.get_mut().set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        self.message().expect("a message from DevTools")
    }

    /// The next text message, or `None` when none arrives before `deadline` (a message begun is read on: the
    /// socket keeps what it has read of it).
    fn receive_until(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        self.0.get_mut().set_read_timeout(Some(left)).expect("timeout");
        self.message()
    }

    fn message(&mut self) -> Option<String> {
        loop {
            match self.0.read().ok()? {
                tungstenite::Message::Text(text) => return Some(text.as_str().to_owned()),
                tungstenite::Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_rfc_4648_has_it() {
        assert_eq!(base64("aGVsbG8="), b"hello");
        assert_eq!(base64("iVBORw0KGgo="), [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        assert_eq!(base64(""), b"");
    }
}
