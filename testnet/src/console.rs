//! `hotline console` processes beside testnet nodes, and the little HTTP/1.1 a test or a bench
//! needs to speak to them as a browser would (log in, fetch a page with its session cookie, post
//! a form with its CSRF token, follow the live stream). Plain sockets on loopback, one request per
//! connection: what is measured or tested is the console, not a client library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hotline_node::home::Home;

/// A running `hotline console`, killed when dropped.
pub struct Console {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
}

impl Console {
    /// Starts the console of the node in `home` on 127.0.0.1:`port` (0: a free port), its output
    /// to `log`, and waits until it answers `/health` (which also means it reaches its node).
    pub fn start(exe: &Path, home: &Home, port: u16, log: &Path) -> Result<Console> {
        let port = if port == 0 { free_tcp_port()? } else { port };
        let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(exe)
            .arg("--home")
            .arg(home.dir())
            .args(["console", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting a console")?;
        let mut console = Console { url: format!("http://127.0.0.1:{port}"), child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&console.url, "/health", "").map(|r| r.status).unwrap_or(0) != 200 {
            if let Ok(Some(status)) = console.child.try_wait() {
                bail!("the console exited ({status}) before serving: see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!(
                    "the console did not serve /health within 30 s (port {port} taken?): see {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(console)
    }

    /// The console's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has ended.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (free when asked).
pub fn free_tcp_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body (the console sends no chunked answers but the live stream).
    pub body: String,
}

impl Reply {
    /// The value of the first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The `Set-Cookie` for cookie `name`, whole (with its attributes).
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            let v = v.trim();
            (n.trim().eq_ignore_ascii_case("set-cookie") && v.starts_with(&format!("{name}="))).then_some(v)
        })
    }

    /// The console's own time for it, from `Server-Timing: app;dur=MS`.
    pub fn server_ms(&self) -> Option<f64> {
        self.header("server-timing")?.split(';').find_map(|p| p.trim().strip_prefix("dur=")?.parse().ok())
    }
}

/// One request on its own connection; `Err` only when the console cannot be reached.
pub fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Result<Reply> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    // To the end of the body its Content-Length gives (some servers keep the connection open
    // whatever the request says), else to the end of the stream.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_string();
            let length = head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|len| raw.len() >= end + 4 + len) {
                break;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if raw.is_empty() => return Err(e.into()),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok(Reply { status, head: head.to_string(), body: rest.to_string() })
}

/// `GET path` with a session cookie (`name=value`, or empty for none).
pub fn get(base: &str, path: &str, cookie: &str) -> Result<Reply> {
    let headers: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("Cookie", cookie)] };
    request(base, "GET", path, &headers, "")
}

/// `POST path` of a form, with a session cookie (or none) and the console's own origin, as a
/// browser posts it.
pub fn post(base: &str, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Result<Reply> {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", base)];
    if !cookie.is_empty() {
        headers.push(("Cookie", cookie));
    }
    request(base, "POST", path, &headers, &form(fields))
}

/// A form body, `application/x-www-form-urlencoded`.
pub fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The CSRF token of the first form in a page.
pub fn csrf_in(page: &str) -> Option<String> {
    const FIELD: &str = "name=\"csrf\" value=\"";
    let at = page.find(FIELD)? + FIELD.len();
    page.get(at..at + 64).map(str::to_string)
}

/// A logged-in officer's session, as the browser holds it.
#[derive(Debug, Clone)]
pub struct Session {
    /// `hotline_session=…`, for a `Cookie` header.
    pub cookie: String,
    /// The session's CSRF token, for forms.
    pub csrf: String,
}

/// One log-in attempt as a browser makes it (the form's page first, for its token and cookie).
pub fn attempt_login(base: &str, call_sign: &str, password: &str) -> Result<Reply> {
    let page = get(base, "/login", "")?;
    let pre = page.set_cookie("hotline_login").ok_or_else(|| anyhow!("the log-in page set no cookie"))?;
    let pre = pre.split(';').next().unwrap_or_default().to_string();
    let csrf = csrf_in(&page.body).ok_or_else(|| anyhow!("the log-in page has no CSRF field"))?;
    let body = form(&[("csrf", &csrf), ("call_sign", call_sign), ("password", password)]);
    let headers =
        [("Cookie", pre.as_str()), ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", base)];
    request(base, "POST", "/login", &headers, &body)
}

/// Logs in: the session, or why not.
pub fn login(base: &str, call_sign: &str, password: &str) -> Result<Session> {
    let reply = attempt_login(base, call_sign, password)?;
    if reply.status != 303 {
        bail!("log-in of {call_sign} answered {}: {}", reply.status, reply.body);
    }
    let cookie = reply.set_cookie("hotline_session").ok_or_else(|| anyhow!("no session cookie"))?;
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();
    let board = get(base, "/", &cookie)?;
    let csrf = csrf_in(&board.body).ok_or_else(|| anyhow!("the board has no CSRF field"))?;
    Ok(Session { cookie, csrf })
}

/// The live stream of a board (`/events`), read line by line.
pub struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    /// Opens the stream with a session cookie.
    pub fn open(base: &str, cookie: &str, read_timeout: Duration) -> Result<Events> {
        let addr = base.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(read_timeout))?;
        s.write_all(
            format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )?;
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if !line.contains(" 200 ") {
            bail!("the live stream answered {}", line.trim());
        }
        Ok(Events { reader })
    }

    /// The next event's `data`, or `None` if the stream ended. Header lines, chunk sizes and
    /// keep-alive comments are skipped. A read timeout is an `Err` of kind `WouldBlock` or
    /// `TimedOut`.
    pub fn next_data(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            if let Some(data) = line.trim_end().strip_prefix("data:") {
                return Ok(Some(data.trim_start().to_string()));
            }
        }
    }

    /// Reads every event already arrived, without waiting for more: how many.
    pub fn drain(&mut self) -> std::io::Result<usize> {
        let timeout = self.reader.get_ref().read_timeout()?;
        self.reader.get_ref().set_read_timeout(Some(Duration::from_millis(1)))?;
        let mut n = 0;
        while let Ok(Some(_)) = self.next_data() {
            n += 1;
        }
        self.reader.get_ref().set_read_timeout(timeout)?;
        Ok(n)
    }
}

/// Whether an error is a read timeout.
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}
