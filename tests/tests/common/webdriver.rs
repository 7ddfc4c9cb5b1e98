//! A minimal WebDriver client (W3C protocol, JSON over HTTP) driving headless Chromium through
//! Debian's `chromedriver`, for the console's end-to-end test. Chromium runs with an empty profile in
//! a temp dir and without its background networking (this machine refuses those connections); Drop
//! ends the session and kills chromedriver and any Chromium left under that profile.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::free_port;
use super::http::Http;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium and chromedriver, installed with Debian's packages when missing (as `scripts/bootstrap`
/// does); false, said loudly, when they cannot be had.
pub fn available() -> bool {
    let present = || Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present() {
        let _ = Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
                "fonts-noto-cjk",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
    if !present() {
        eprintln!(
            "\n\n*** SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is missing and `apt-get install chromium \
             chromium-driver` failed (run `bash scripts/bootstrap`); the console was NOT tested in a browser ***\n\n"
        );
    }
    present()
}

/// A browser session.
pub struct Browser {
    driver: Http,
    session: String,
    child: Option<Child>,
    profile: tempfile::TempDir,
    pub log: PathBuf,
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct El(Value);

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width`x`height` window.
    pub fn start(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Http::plain(&format!("127.0.0.1:{port}"));
        let mut b = Browser { driver, session: String::new(), child: Some(child), profile, log };
        super::wait_for("chromedriver to answer", Duration::from_secs(20), || {
            let a = b.driver.send("GET", "/status", &[], None).ok()?;
            (a.status == 200 && a.json()["value"]["ready"] == true).then_some(())
        });
        let data_dir = b.profile.path().join("chromium");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            "--lang=zh-CN".into(),
            format!("--user-data-dir={}", data_dir.display()),
            format!("--window-size={width},{height}"),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_string();
        // --window-size counts the window's frame: grow it so the page itself is width x height.
        let frame = b.js(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
            vec![],
        );
        let (dw, dh) = (frame[0].as_u64().unwrap_or(0), frame[1].as_u64().unwrap_or(0));
        if dw > 0 || dh > 0 {
            b.call(
                "POST",
                &b.s("/window/rect"),
                Some(json!({"width": u64::from(width) + dw, "height": u64::from(height) + dh})),
            );
        }
        let inner = b.js("return [window.innerWidth, window.innerHeight]", vec![]);
        assert_eq!(inner, json!([width, height]), "the page's size");
        b
    }

    /// A WebDriver command; panics with the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let a = self
            .driver
            .send(method, path, &[], body.as_deref().or(if method == "POST" { Some("{}") } else { None }))
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let v = a.json();
        assert!(a.status == 200, "webdriver {method} {path}: {} {}", a.status, v["value"]);
        v["value"].clone()
    }

    /// Like `call`, but an error is returned, not panicked on.
    fn try_call(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let a = self.driver.send(method, path, &[], Some(&body.to_string())).map_err(|e| e.to_string())?;
        let v = a.json();
        if a.status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!("{} {}", a.status, v["value"]))
        }
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None).as_str().unwrap_or_default().to_string()
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.call("POST", &self.s("/execute/sync"), Some(json!({ "script": script, "args": args })))
    }

    /// The first element matching `css`, if any.
    pub fn find(&self, css: &str) -> Option<El> {
        self.try_call("POST", &self.s("/element"), json!({"using": "css selector", "value": css}))
            .ok()
            .map(El)
    }

    /// Waits (polling) until `css` matches an element.
    pub fn wait(&self, css: &str, timeout: Duration) -> El {
        self.wait_for(&format!("an element {css}"), timeout, || self.find(css))
    }

    /// Polls `f` every 50 ms until it returns Some; panics after `timeout`, with the browser's log.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            if start.elapsed() > timeout {
                let console =
                    self.js("return document.body ? document.body.innerText.slice(0, 2000) : ''", vec![]);
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the page shows:\n{}",
                    console.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn el(&self, e: &El, rest: &str) -> String {
        let id = e.0.as_object().and_then(|o| o.values().next()).and_then(|v| v.as_str()).unwrap_or_default();
        self.s(&format!("/element/{id}{rest}"))
    }

    /// Clicks the first element matching `css`, waiting for it; found again if the page redraws it
    /// between finding and clicking (a stale element).
    pub fn click_at(&self, css: &str, timeout: Duration) {
        self.wait_for(&format!("a click on {css}"), timeout, || {
            let e = self.find(css)?;
            self.try_call("POST", &self.el(&e, "/click"), json!({})).ok()
        });
    }

    /// The text of `e`, or None when the page has replaced it (stale) or it is gone.
    pub fn try_text(&self, e: &El) -> Option<String> {
        let a = self.driver.send("GET", &self.el(e, "/text"), &[], None).ok()?;
        (a.status == 200).then(|| a.json()["value"].as_str().unwrap_or_default().to_string())
    }

    /// The text of the first element matching `css`, waiting for it (and past redraws).
    pub fn text_of(&self, css: &str, timeout: Duration) -> String {
        self.wait_for(&format!("the text of {css}"), timeout, || self.try_text(&self.find(css)?))
    }

    pub fn type_into(&self, e: &El, text: &str) {
        self.call("POST", &self.el(e, "/clear"), Some(json!({})));
        self.call("POST", &self.el(e, "/value"), Some(json!({ "text": text })));
    }

    /// Saves a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let b64 = self.call("GET", &self.s("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.driver.send("DELETE", &self.s(""), &[], None);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Any Chromium still running on this test's profile (ours alone: the path is a fresh temp dir).
        let marker = self.profile.path().display().to_string();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmd).contains(&marker) {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
    }
}
